"""Syslog messages: the RFC 5424 and RFC 3164 formats, their limits and escaping.

A message is kept in three parts (head, structured data, body) so that a transport with a size
limit (UDP) can cut the body, or drop the structured data, without parsing the message again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from forwarder.sinks.syslog.settings import PRINTABLE_ASCII, Bom, Facility, Severity

NILVALUE = "-"
BOM = b"\xef\xbb\xbf"

# RFC 5424 section 6: the longest each header field may be.
HOSTNAME_MAX = 255
APP_NAME_MAX = 48
PROCID_MAX = 128
MSGID_MAX = 32
SD_NAME_MAX = 32
# RFC 3164 section 4.1.3: "The TAG ... MUST NOT exceed 32 characters."
TAG_MAX = 32

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# SD-NAME: printable ASCII (33-126) but '"' (34), '=' (61) and ']' (93); a regex, as it runs per param.
SD_NAME = re.compile(r"[!#-<>-\\^-~]{1,32}")
HEADER_TEXT = re.compile(r"[!-~]+")
# RFC 3164 TAG: what rsyslog and syslog-ng read as the program name ends at these.
TAG_STOP = re.compile(r"[\[\]: ]")


@dataclass(frozen=True, slots=True)
class SyslogMessage:
    # PRI up to MSGID and its space (5424), or PRI up to "TAG[PID]:" (3164).
    head: bytes
    # "-" or SD-ELEMENTs (5424); empty for 3164, which has none.
    structured_data: bytes
    # MSG, with the BOM when one is used.
    body: bytes

    def encode(self) -> bytes:
        if not self.body:
            return self.head + self.structured_data
        return self.head + self.structured_data + b" " + self.body

    def __len__(self) -> int:
        return len(self.head) + len(self.structured_data) + (1 + len(self.body) if self.body else 0)


def prival(facility: Facility | int, severity: Severity | int) -> int:
    """RFC 5424 6.2.1: facility * 8 + severity, which keeps PRIVAL within 0-191."""
    if not 0 <= int(facility) <= 23:
        raise ValueError(f"facility {int(facility)} is outside 0-23")
    if not 0 <= int(severity) <= 7:
        raise ValueError(f"severity {int(severity)} is outside 0-7")
    return int(facility) * 8 + int(severity)


# The same few values (host name, app name, log types, SD names) come back in every message.
@lru_cache(maxsize=256)
def header_field(value: str, limit: int) -> str:
    """A header field within the RFC's alphabet and length: unusable characters are dropped.

    Our own values (log types, validated settings) never lose anything here; a host name the
    machine reports with odd characters must still give a parseable header rather than no message.
    """
    if HEADER_TEXT.fullmatch(value):
        return value[:limit]
    cleaned = "".join(character for character in value if character in PRINTABLE_ASCII)[:limit]
    return cleaned or NILVALUE


@lru_cache(maxsize=256)
def sd_name(value: str) -> str:
    """An SD-NAME (SD-ID or PARAM-NAME): 1-32 printable ASCII characters but ``= ]"``."""
    if SD_NAME.fullmatch(value):
        return value
    if not value or len(value) > SD_NAME_MAX:
        raise ValueError(f"SD-NAME {value!r} must have 1 to {SD_NAME_MAX} characters")
    raise ValueError(f'SD-NAME {value!r} may hold only printable ASCII but `=`, space, `]` and `"`')


def escape_sd_value(value: str) -> str:
    """RFC 5424 6.3.3: inside PARAM-VALUE, '"', '\\' and ']' MUST be escaped with a backslash.

    Backslashes first, so that the ones added for the others are not doubled. Three replace()
    calls scan in C; str.translate with a dict looked each character up in Python (14 % of the
    forwarder's CPU with a syslog sink).
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def structured_data_element(sd_id: str, params: Iterable[tuple[str, str]]) -> str:
    """One SD-ELEMENT: ``[id name="value" ...]``."""
    body = "".join(f' {sd_name(name)}="{escape_sd_value(value)}"' for name, value in params)
    return f"[{sd_name(sd_id)}{body}]"


def timestamp_5424(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, the most TIME-SECFRAC allows (6 digits)."""
    utc = moment.astimezone(UTC)
    # Formatted by hand: strftime's %Y does not pad years before 1000 to the four digits the RFC needs.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def timestamp_3164(moment: datetime) -> str:
    """``Mmm dd hh:mm:ss`` in UTC: RFC 3164 has no year and no zone, so the receiver must assume UTC."""
    utc = moment.astimezone(UTC)
    return f"{MONTHS[utc.month - 1]} {utc.day:2d} {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"


def message_body(text: str | bytes, bom: Bom) -> bytes:
    """MSG: RFC 5424 6.4 wants UTF-8 to start with a BOM; pure ASCII is MSG-ANY and needs none.

    ``text`` may already be UTF-8 bytes (a JSON document as encoded once for every sink).
    """
    encoded = text.encode("utf-8") if isinstance(text, str) else text
    if bom == "always" or (bom == "auto" and not encoded.isascii()):
        return BOM + encoded
    return encoded


def format_5424(
    *,
    pri: int,
    moment: datetime,
    hostname: str,
    app_name: str,
    procid: str,
    msgid: str,
    structured_data: str,
    body: bytes,
) -> SyslogMessage:
    fields = (
        f"<{pri}>1",
        timestamp_5424(moment),
        header_field(hostname, HOSTNAME_MAX),
        header_field(app_name, APP_NAME_MAX),
        header_field(procid, PROCID_MAX),
        header_field(msgid, MSGID_MAX),
    )
    head = " ".join(fields) + " "
    return SyslogMessage(
        head=head.encode("ascii"),
        structured_data=(structured_data or NILVALUE).encode("utf-8"),
        body=body,
    )


def tag_3164(app_name: str) -> str:
    """The TAG: the app name up to the first character a receiver would end it at, at most 32."""
    tag = TAG_STOP.split(header_field(app_name, APP_NAME_MAX), maxsplit=1)[0][:TAG_MAX]
    return tag or "forwarder"


def format_3164(
    *, pri: int, moment: datetime, hostname: str, app_name: str, procid: str, body: bytes
) -> SyslogMessage:
    host = header_field(hostname, HOSTNAME_MAX)
    if host == NILVALUE:
        # RFC 3164 has no NILVALUE: a relay would read "-" as the host name anyway.
        host = "localhost"
    head = f"<{pri}>{timestamp_3164(moment)} {host} {tag_3164(app_name)}[{procid}]:"
    return SyslogMessage(head=head.encode("ascii"), structured_data=b"", body=body)
