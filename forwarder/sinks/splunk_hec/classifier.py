"""What an HEC answer means: a pure function from (HTTP status, body) to an outcome.

HEC answers ``{"text": ..., "code": N}`` with one of 23 codes (Splunk, "Troubleshoot HTTP Event
Collector"). The code, not the HTTP status, says what to do: 400 alone means anything from "this
one event is bad" to "the token needs a channel". Proxies and load balancers in front of HEC
answer without a code, so the HTTP status decides when no code is there.

Nothing here does I/O; the whole table is tested row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from forwarder.retry import retry_after as parse_retry_after
from forwarder.sinks.base import Outcome, Verdict
from forwarder.sinks.splunk_hec.settings import env_var


@dataclass(frozen=True, slots=True, kw_only=True)
class HecOutcome(Outcome):
    """An outcome with what HEC said. ``REJECT``: one event of the request was refused, at
    ``invalid_event_number``. ``TOO_LARGE``: a 413 from HEC or a proxy. ``HEALTHY`` (code 17) and
    ``NO_DATA`` (code 5, expected from the token probe in ``check``) answer probes, never a batch."""

    status: int
    code: int | None = None
    text: str | None = None
    ack_id: int | None = None
    # Index, within the request, of the event HEC refused. Events before it were accepted; the
    # ones after it were never looked at.
    invalid_event_number: int | None = None


RETRY_CODES = frozenset({8, 9, 18, 19, 20})
REJECT_CODES = frozenset({6, 7, 12, 13, 15})
CONFIG_CODES = frozenset({1, 2, 3, 4, 10, 11, 14, 16, 21, 22})
# Answers of proxies and load balancers in front of HEC that mean "later", whatever the body.
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})

_TOKEN = env_var("token")
_ACKS = env_var("acknowledgements")
_URL = env_var("url")

# What a person should change, per configuration code.
_CONFIG_ADVICE: Mapping[int, str] = {
    1: f"the token is disabled in Splunk; enable it, or set {_TOKEN} to an enabled token",
    2: f"no token reached HEC; set {_TOKEN} (or {_TOKEN}_FILE), and check that no proxy drops the "
    "Authorization header",
    3: f"HEC did not understand the Authorization header; {_TOKEN} must hold the bare token, and no "
    "proxy may rewrite the header",
    4: f"Splunk does not know the token in {_TOKEN}; copy it again from Settings > Data inputs > "
    "HTTP Event Collector",
    10: f"the token has indexer acknowledgement enabled, so every request needs a channel; set {_ACKS}=true "
    "or turn acknowledgement off on the token",
    11: "HEC refused the request channel id; it must be a GUID",
    14: f"{_ACKS} is true but the token has indexer acknowledgement disabled; enable it on the token "
    f"(Splunk Enterprise only) or set {_ACKS}=false",
    16: "HEC saw the token in the query string, which it does not allow; a proxy may have moved the "
    "Authorization header",
    21: f"Splunk does not know the token in {_TOKEN}",
    22: f"the token in {_TOKEN} is disabled in Splunk; enable it, or use an enabled token",
}


def _json_object(body: bytes) -> Mapping[str, Any] | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _int_or_none(value: Any) -> int | None:
    # bool is an int in Python; HEC never sends one where a number belongs.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").strip()
    return " ".join(text.split()) or "an empty body"


def classify(status: int, body: bytes, retry_after: str | None = None) -> HecOutcome:
    """The outcome of one answer of ``/services/collector/event`` or ``/services/collector/health``."""
    wait = parse_retry_after(retry_after)
    document = _json_object(body)
    code = _int_or_none(document.get("code")) if document is not None else None
    text = str(document.get("text", "")) if document is not None else None
    described = f"HEC code {code} ({text}, HTTP {status})" if code is not None else f"HTTP {status}"

    if status == 413:
        return HecOutcome(
            Verdict.TOO_LARGE,
            f"{described}: request too large for HEC or a proxy in front of it",
            status=status,
            code=code,
            text=text,
        )
    if status in RETRY_STATUSES and code not in CONFIG_CODES:
        # A proxy's 502/504 or 429 may carry any body; a HEC 503 carries code 9 or 18-20.
        reason = f"{described}: {_reason_or_body(text, body)}"
        return HecOutcome(Verdict.RETRY, reason, wait, status=status, code=code, text=text)

    if code is not None:
        return _classify_code(status, code, text or "", described, document or {}, wait)

    # No HEC code: a proxy, a load balancer, or not HEC at all.
    if status >= 500:
        return HecOutcome(Verdict.RETRY, f"{described}: {_snippet(body)}", wait, status=status)
    if status in (401, 403, 407):
        return HecOutcome(
            Verdict.CONFIG,
            f"{described} without a HEC code: a proxy or gateway refused the request; check {_URL} "
            f"and the proxy settings ({_snippet(body)})",
            status=status,
        )
    return HecOutcome(
        Verdict.CONFIG,
        f"{described} without a HEC code: {_URL} does not look like an HTTP Event Collector "
        f"(answer: {_snippet(body)})",
        status=status,
    )


def _reason_or_body(text: str | None, body: bytes) -> str:
    return "receiver busy or unavailable" if text else _snippet(body)


def _classify_code(
    status: int,
    code: int,
    text: str,
    described: str,
    document: Mapping[str, Any],
    wait: float | None,
) -> HecOutcome:
    if code == 0:
        ack_id = _int_or_none(document.get("ackId"))
        return HecOutcome(Verdict.DELIVERED, described, status=status, code=code, text=text, ack_id=ack_id)
    if code == 17:
        return HecOutcome(Verdict.HEALTHY, described, status=status, code=code, text=text)
    if code == 5:
        return HecOutcome(Verdict.NO_DATA, described, status=status, code=code, text=text)
    if code in RETRY_CODES:
        return HecOutcome(Verdict.RETRY, described, wait, status=status, code=code, text=text)
    if code in REJECT_CODES:
        number = _int_or_none(document.get("invalid-event-number"))
        where = f" at event {number} of the request" if number is not None else ""
        return HecOutcome(
            Verdict.REJECT,
            f"{described}{where}",
            status=status,
            code=code,
            text=text,
            invalid_event_number=number,
        )
    if code in CONFIG_CODES:
        advice = _CONFIG_ADVICE[code]
        return HecOutcome(Verdict.CONFIG, f"{described}: {advice}", status=status, code=code, text=text)
    # A code this table does not know yet (a newer Splunk): fall back on the HTTP status.
    if status >= 500:
        reason = f"{described}: unknown HEC code"
        return HecOutcome(Verdict.RETRY, reason, wait, status=status, code=code, text=text)
    return HecOutcome(
        Verdict.CONFIG,
        f"{described}: unknown HEC code; read the HEC logs (splunkd.log, component HttpInputDataHandler)",
        status=status,
        code=code,
        text=text,
    )


def parse_ack_statuses(body: bytes) -> dict[int, bool] | None:
    """``{"acks": {"0": true, "1": false}}`` to ``{0: True, 1: False}``; None if it is not that shape."""
    document = _json_object(body)
    if document is None or not isinstance(document.get("acks"), dict):
        return None
    statuses: dict[int, bool] = {}
    for key, value in document["acks"].items():
        ack_id = _int_or_none(key)
        if ack_id is not None:
            statuses[ack_id] = value is True
    return statuses
