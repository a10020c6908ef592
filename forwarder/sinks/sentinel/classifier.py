"""What a Logs Ingestion answer means: a pure function from (HTTP status, body, Retry-After) to an outcome.

The service answers 204 when it took the rows. Its errors carry Azure Core's
``{"error": {"code", "message"}}``, but Microsoft documents only two codes (``OperationFailed`` with 403,
``InvalidAudience`` with 401), so the status decides and the code and message are only passed on to the
person. Proxies and gateways in front of the endpoint answer without that shape (HTML 502s, 413s).

Nothing here does I/O; ``tests/unit/test_sentinel_classifier.py`` holds it to a table of answers.
"""

from __future__ import annotations

from typing import Any

import orjson

from forwarder.retry import retry_after as parse_retry_after
from forwarder.sinks.base import Outcome, Verdict
from forwarder.sinks.sentinel.settings import env_var

# A message is read by a person; the service's own words are cut to this many characters.
_SHOWN = 300
# Statuses that say "later": throttled, busy, broken for now, or a gateway that timed out.
_LATER = frozenset({408, 429, 500, 502, 503, 504})


def describe(status: int, body: bytes) -> str:
    """``HTTP 403 OperationFailed: <message>``, or the start of a body without Azure's error shape."""
    error = _error_of(body)
    if error is not None:
        code, message = error.get("code"), error.get("message")
        words = ": ".join(str(part) for part in (code, message) if part)
        return f"HTTP {status} {words[:_SHOWN]}".rstrip()
    text = " ".join(body[:_SHOWN].decode("utf-8", errors="replace").split())
    return f"HTTP {status} {text}".rstrip() if text else f"HTTP {status}"


def _error_of(body: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else None


def classify(status: int, body: bytes, retry_after: str | None, *, stream_variable: str) -> Outcome:
    """The outcome of one answer to ``POST .../streams/{stream}``; ``stream_variable`` names the setting of
    the stream it was posted to, for the messages that need it."""
    described = describe(status, body)
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, described)
    if status == 413:
        return Outcome(
            Verdict.TOO_LARGE,
            f"{described}: the Logs Ingestion API takes at most 1 MB per call, compressed and uncompressed",
        )
    if status in _LATER:
        return Outcome(Verdict.RETRY, described, parse_retry_after(retry_after))
    if status == 400:
        return Outcome(
            Verdict.REJECT,
            f"{described}: the service refused these rows; if it refuses every request, the columns of the "
            f"stream {stream_variable} names in the data collection rule do not match {env_var('format')}",
        )
    return Outcome(Verdict.CONFIG, _configuration_problem(status, described, stream_variable))


def _configuration_problem(status: int, described: str, stream_variable: str) -> str:
    if status == 401:
        return (
            f"{described}: the Logs Ingestion API refused the Entra ID token; it must be for the audience "
            f"https://monitor.azure.com ({env_var('scope')}) and from the tenant of the data collection rule "
            f"({env_var('tenant_id')})"
        )
    if status == 403:
        return (
            f"{described}: the forwarder's identity ({env_var('client_id')}, or the managed identity) needs "
            f"the role Monitoring Metrics Publisher on the data collection rule {env_var('rule_id')} names "
            "(deploy/sentinel assigns it); a new role assignment can take up to 30 minutes to apply"
        )
    if status == 404:
        return (
            f"{described}: no such data collection rule or stream; check {env_var('rule_id')} (the rule's "
            f"immutable id, dcr-...), {stream_variable} (a stream the rule declares, Custom-...) and "
            f"{env_var('url')} (the logs ingestion URL of the rule's data collection endpoint)"
        )
    if 300 <= status < 400:
        return (
            f"{described}: redirected; {env_var('url')} must be the data collection endpoint's logs "
            "ingestion URL, https://<name>.<region>-1.ingest.monitor.azure.com"
        )
    return (
        f"{described}: an answer the Logs Ingestion API does not give; is {env_var('url')} the data "
        "collection endpoint's logs ingestion URL?"
    )
