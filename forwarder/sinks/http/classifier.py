"""What an HTTP intake's answer means: a pure function from (status, body, Retry-After) to an outcome.

Generic receivers say little beyond the status, so the status decides: 2xx delivered; a status in
``RETRY_STATUSES`` (default 408, 429, 500, 502, 503, 504: what Datadog, Sumo Logic and Logstash
document as "later", and what proxies answer) retried after ``Retry-After``; 413 too large; 401, 403
and 407 the credentials and 404, 405 or a redirect the URL (configuration: nothing is dead-lettered
while a person fixes it); any other 4xx or 5xx refuses the request's events (dead letters; the sink
halves a refused request to find the event that caused it).

Nothing here does I/O; the table is tested row by row.
"""

from __future__ import annotations

from collections.abc import Collection

from forwarder.retry import retry_after as parse_retry_after
from forwarder.sinks.base import Outcome, Verdict
from forwarder.sinks.http.settings import env_var

_CREDENTIALS = frozenset({401, 403, 407})
_WRONG_PLACE = frozenset({404, 405})
_AUTH_VARIABLES = ", ".join(
    env_var(name) for name in ("api_key", "bearer_token", "basic_password", "headers")
)


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").strip()
    return " ".join(text.split()) or "an empty body"


def classify(status: int, body: bytes, retry_after: str | None, retry_statuses: Collection[int]) -> Outcome:
    """The outcome of one answer to a POST of events."""
    described = f"HTTP {status}: {_snippet(body)}"
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, f"HTTP {status}")
    if status in retry_statuses:
        return Outcome(Verdict.RETRY, described, parse_retry_after(retry_after))
    if status == 413:
        return Outcome(Verdict.TOO_LARGE, f"{described}: request too large for the receiver or a proxy")
    if status in _CREDENTIALS:
        return Outcome(
            Verdict.CONFIG, f"{described}: the receiver refused the credentials; check {_AUTH_VARIABLES}"
        )
    if status in _WRONG_PLACE or 300 <= status < 400:
        return Outcome(Verdict.CONFIG, f"{described}: {env_var('url')} does not take events here")
    return Outcome(Verdict.REJECT, f"{described} (not in {env_var('retry_statuses')})")
