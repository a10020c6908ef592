"""What the syslog payloads read from a Cloudflare record: its outcome and its fields as text.

CEF, LEEF and the structured data read ``record.data`` (the record as the API returned it), not
the mapped document, so their keys do not change with the sink's ``format``. Every field of a
record is optional and may be null; an absent value is simply not emitted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from forwarder.records import LogType, Record
from forwarder.sinks.syslog.settings import Severity


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


def outcome(record: Record) -> Outcome:
    """An access request is allowed or denied; a SCIM update succeeded or failed."""
    data = record.data
    if record.log_type is LogType.ACCESS_REQUESTS:
        allowed = data.get("allowed")
        if allowed is True:
            return Outcome.SUCCESS
        if allowed is False:
            return Outcome.FAILURE
        return Outcome.UNKNOWN
    status = data.get("status")
    if isinstance(status, str) and status.strip().upper() in {"SUCCESS", "SUCCEEDED", "OK"}:
        return Outcome.SUCCESS
    if isinstance(status, str) and status.strip().upper() in {"FAILURE", "FAILED", "ERROR"}:
        return Outcome.FAILURE
    # Cloudflare fills error_description only when the request failed.
    if text(data.get("error_description")):
        return Outcome.FAILURE
    return Outcome.UNKNOWN


def text(value: Any) -> str | None:
    """A record value as the text a key=value format carries; None for null, missing or empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    # Nested values (none are documented, but the API may add some) stay readable as JSON.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def field_text(data: Mapping[str, Any], name: str) -> str | None:
    return text(data.get(name))


def ip_address(value: Any) -> str | None:
    """The address in canonical form, or None when the field holds something else."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def host_of(url: str) -> str:
    """``app.example.com/admin`` (how Cloudflare gives app_domain) to ``app.example.com``."""
    without_scheme = url.split("://", 1)[-1]
    return without_scheme.split("/", 1)[0]


def epoch_milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def java_iso_time(moment: datetime) -> str:
    """The time in Java's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` pattern, which LEEF names in devTimeFormat."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def signature_id(record: Record) -> str:
    """Device Event Class ID: one per log type and outcome, so SIEM rules can key on it."""
    kind = "access_request" if record.log_type is LogType.ACCESS_REQUESTS else "scim_update"
    return f"{kind}.{outcome(record).value}"


# CEF severity is 0-10 and LEEF `sev` 1-10; both follow the syslog severity a person configured so
# that one setting ranks an event the same way in every format.
SEVERITY_TO_TEN: dict[Severity, int] = {
    Severity.EMERG: 10,
    Severity.ALERT: 9,
    Severity.CRIT: 8,
    Severity.ERR: 7,
    Severity.WARNING: 6,
    Severity.NOTICE: 4,
    Severity.INFO: 3,
    Severity.DEBUG: 1,
}
