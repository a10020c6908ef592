"""RFC 3339 timestamps as integer nanoseconds since the epoch.

Records carry up to nine fraction digits; a float cannot hold those exactly, and the simulator's answer to
"is this record inside [since, until)" must agree with the string the client reads, so times are ints.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

NANOSECONDS = 1_000_000_000

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str) -> int | None:
    """Nanoseconds since the epoch, or None when ``text`` is not an RFC 3339 date-time."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction = match.group(7) or ""
    try:
        # Leap seconds (:60) are legal RFC 3339 but Cloudflare never emits them; treat as invalid.
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    if match.group(8) is None:
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        moment -= offset if match.group(9) == "+" else -offset
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * NANOSECONDS + int(fraction.ljust(9, "0"))


def format_rfc3339(nanoseconds: int, digits: int) -> str:
    """``2014-01-01T05:20:00.12345Z`` style, with exactly ``digits`` fraction digits (0 drops the dot)."""
    seconds, fraction = divmod(nanoseconds, NANOSECONDS)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{fraction:09d}"[:digits]
    return text + "Z"


def truncate(nanoseconds: int, digits: int) -> int:
    """The time a string with ``digits`` fraction digits can express, so filters match what clients read."""
    unit: int = 10 ** (9 - digits)
    return nanoseconds - nanoseconds % unit


def from_datetime(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give it a timezone")
    delta = moment - _EPOCH
    microseconds: int = delta // timedelta(microseconds=1)
    return microseconds * 1000


def from_seconds(seconds: float) -> int:
    return round(seconds * NANOSECONDS)


def to_seconds(nanoseconds: int) -> float:
    return nanoseconds / NANOSECONDS
