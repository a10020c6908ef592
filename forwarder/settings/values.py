"""Parsing of setting values: durations, lists, account ids and start times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field
from pydantic_settings import NoDecode

ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d`` (and ``ms``) to a timedelta."""
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 24h or 7d")
    return timedelta(seconds=float(match.group(1)) * DURATION_UNITS[match.group(2)])


def seconds(value: Any) -> Any:
    """Accept a plain number of seconds or a duration string for a float-seconds setting."""
    if isinstance(value, str) and DURATION.match(value.strip()):
        return parse_duration(value).total_seconds()
    return value


def split_list(value: Any) -> Any:
    """Comma- or space-separated lists: ``a,b`` reads better in a manifest than JSON."""
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value.strip()) if item]
    return value


Seconds = Annotated[float, Field(gt=0)]
StringList = Annotated[list[str], NoDecode]


def resolve_start(value: str, now: datetime) -> datetime:
    """``now``, a duration back from ``now``, or an RFC 3339 time."""
    text = value.strip()
    if text == "now":
        return now
    if DURATION.match(text):
        return now - parse_duration(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither `now`, a duration such as 24h, nor an RFC 3339 time"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
