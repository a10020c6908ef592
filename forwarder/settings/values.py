"""Parsing of setting values: durations, lists, account ids, start times and credentials."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, SecretStr
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


def credential(value: Any, *, spaces: bool = False) -> Any:
    """A token, key or password as the environment gave it, made safe to send in a header.

    Surrounding whitespace is stripped (a pasted value, `kubectl create secret --from-literal`
    with a newline), as for ``*_FILE`` values. An empty value, or one holding control characters
    (or whitespace, unless ``spaces``), is refused. The message never shows the value: it
    says what is wrong and where.
    """
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        return value
    text = text.strip()
    if not text:
        raise ValueError("is set but empty: give the value, or unset the variable")
    for position, character in enumerate(text, start=1):
        control = unicodedata.category(character).startswith("C")
        if control or (not spaces and character.isspace()):
            kind = "a control character" if control else "whitespace"
            raise ValueError(
                f"holds {kind} (character {position} of {len(text)}; the value is not shown): "
                "a credential is one unbroken string, check what was pasted"
            )
    return text
