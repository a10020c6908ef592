"""What the two key=value formats, CEF and LEEF, share: the device they name, their event class
ids, the severity they rank an event with, and the text of a record value.

Both read ``record.data`` (the record as the API returned it, its SCIM body prepared by the
source), so their keys are the API's fields rather than another format's. Every field is optional
and may be null; an absent value is not written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from forwarder.formats.outcome import Outcome
from forwarder.formats.values import flat_text
from forwarder.records import LogType, Record

VENDOR = "Cloudflare"
PRODUCT = "Access"

# (key, value) in the order they are written; a None value is left out.
Pairs = list[tuple[str, str | None]]

# Both formats escape header fields alike: a backslash before ``\\`` and ``|``. A header field
# cannot carry a line break in any escaped form either spec defines, and none of ours should hold
# one; a space keeps the event on one line instead of failing it.
_HEADER_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " "})


@dataclass(frozen=True, slots=True)
class KeyValueOptions:
    """What a CEF or LEEF line takes from the sink that ships it.

    The severities are CEF's 0-10 scale (LEEF's ``sev`` is 1-10: 0 is written as 1). The defaults
    are what the syslog sink's default severities (warning for a failure, info otherwise) become.
    """

    failure_severity: int = 6
    other_severity: int = 3
    leef_delimiter: str = "^"

    def severity(self, result: Outcome) -> int:
        return self.failure_severity if result is Outcome.FAILURE else self.other_severity


DEFAULT_OPTIONS = KeyValueOptions()


def field_text(data: Mapping[str, Any], name: str) -> str | None:
    return flat_text(data.get(name))


_KINDS = {
    LogType.ACCESS_REQUESTS: "access_request",
    LogType.SCIM_UPDATES: "scim_update",
    LogType.AUDIT_LOGS: "audit_log",
}


def signature_id(log_type: LogType, result: Outcome) -> str:
    """Device Event Class ID: one per log type and outcome, so SIEM rules can key on it."""
    return f"{_KINDS[log_type]}.{result.value}"


def outcome_text(result: Outcome) -> str | None:
    """The ``outcome`` value: an unknown outcome is left out rather than written."""
    return None if result is Outcome.UNKNOWN else result.value


def escape_header(value: str) -> str:
    return value.translate(_HEADER_ESCAPES)


def line_encoder(
    to_line: Callable[[Record, KeyValueOptions], str], options: KeyValueOptions
) -> Callable[[Record], bytes]:
    """The encoder the pipeline runs: ``to_line`` with ``options``, as UTF-8."""

    def encode(record: Record) -> bytes:
        return to_line(record, options).encode("utf-8")

    return encode
