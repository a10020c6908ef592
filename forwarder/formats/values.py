"""Turning API values into values a format accepts, shared by every format.

Every function here is total: a value of the wrong type, an empty string or garbage gives None,
and the caller then keeps the original under the vendor namespace instead of mapping it.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# OCSF 1.8.0's email_t pattern, matched in full: jsonschema uses re.search, whose "$" also
# matches before a trailing newline, but a SIEM's validator may not be as lenient.
_OCSF_EMAIL = re.compile(r"[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+")


def text(value: Any) -> str | None:
    """A non-empty string, or None: an empty string identifies nothing."""
    if isinstance(value, str) and value:
        return value
    return None


def flat_text(value: Any) -> str | None:
    """Any value as the text a key=value format carries (CEF, LEEF, syslog structured data); None
    for null, missing or empty. Nested values (none are documented, but the API may add some) stay
    readable as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


# The same addresses and application domains come back in record after record: their parsed forms
# are cached (bounded, so a scan from many addresses cannot grow memory).
@lru_cache(maxsize=8192)
def _canonical_ip(value: str) -> str | None:
    family = socket.AF_INET6 if ":" in value else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, value))
    except (OSError, ValueError):
        return None


def ip_address(value: Any) -> str | None:
    """The canonical form of an IPv4 or IPv6 address, or None.

    inet_pton is strict where it matters (no zone ids, no leading zeros, no spaces), which
    Elasticsearch's `ip` type and OCSF's ip_t pattern also are; inet_ntop's compressed form
    keeps IPv6 within OCSF's 40-character limit. Both are C calls, far cheaper than `ipaddress`.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    return _canonical_ip(value)


@lru_cache(maxsize=8192)
def is_ocsf_email(value: str) -> bool:
    return _OCSF_EMAIL.fullmatch(value) is not None


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a `Z`: what Elasticsearch's `date` type parses."""
    # Records carry datetime.UTC itself, whose isoformat ends in "+00:00": slicing that off is
    # several times cheaper than building a naive copy.
    return utc(moment).isoformat(timespec="microseconds")[:-6] + "Z"


# The shape Cloudflare sends: iso_timestamp's form but for the fraction's length (1 to 9 digits).
# Its bound `fullmatch`: one attribute lookup less per event.
_canonical_time = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z", re.ASCII).fullmatch


def iso_timestamp_from(raw: Any, moment: datetime) -> str:
    """``iso_timestamp(moment)``, where ``moment`` was parsed from ``raw``.

    When ``raw`` has the canonical shape (which parsing it successfully proves valid), the result is
    ``raw`` with its fraction padded or cut to six digits: several times cheaper than formatting
    ``moment`` (``isoformat`` of an aware datetime costs about 1 µs). A fraction of 7 to 9 digits is
    cut only when ``moment`` holds the first six (parsers truncate; one that rounded would not, and
    is formatted). Anything else (offsets, longer fractions, ISO week dates) is formatted from ``moment``.
    """
    if isinstance(raw, str) and _canonical_time(raw) is not None:
        length = len(raw)
        if length == 27:
            # Six digits already: the text itself.
            return raw
        if length == 20:
            return raw[:19] + ".000000Z"
        if length < 27:
            return raw[:-1].ljust(26, "0") + "Z"
        if moment.microsecond == int(raw[20:26]):
            return raw[:26] + "Z"
    return iso_timestamp(moment)


def epoch_milliseconds(moment: datetime) -> int:
    """Integer arithmetic, so that no float rounding moves an event across a millisecond."""
    delta = utc(moment) - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


# Every record of a page has the same observation time: convert it once per page, not per record.
observed_iso_timestamp = lru_cache(maxsize=16)(iso_timestamp)
observed_epoch_milliseconds = lru_cache(maxsize=16)(epoch_milliseconds)


class AppUrl(NamedTuple):
    """The parts of an Access application domain a format can name; None where absent."""

    host: str | None
    port: int | None
    path: str | None
    query: str | None


_NO_URL = AppUrl(None, None, None, None)


@lru_cache(maxsize=4096)
def split_app_domain(value: str) -> AppUrl:
    """The parts of an Access application domain such as ``test.example.com:8443/admin?x=1``.

    The API gives a URL without a scheme; a scheme is accepted too. Anything urlsplit cannot
    read (an unbalanced IPv6 bracket, say) gives no parts; a port that is not a number, none.
    """
    try:
        parts = urlsplit(value if "://" in value else "//" + value)
        host = parts.hostname
    except ValueError:
        return _NO_URL
    try:
        port = parts.port
    except ValueError:
        port = None
    return AppUrl(host or None, port, parts.path or None, parts.query or None)


def country_code(value: Any) -> str | None:
    """An ISO 3166 alpha-2 code (two ASCII letters) in upper case, or None."""
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    return None


def unique(values: Iterable[str | None]) -> list[str]:
    """Distinct non-empty values in first-seen order (ECS `related.*` are sets in spirit)."""
    return list(dict.fromkeys(value for value in values if value))


def unknown_fields(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields this forwarder does not know yet, kept verbatim (null included)."""
    if known.issuperset(data):
        # The usual case, tested in C without a loop in Python (a third cheaper than
        # ``data.keys() <= known``, which builds a keys view first).
        return {}
    return {key: value for key, value in data.items() if key not in known}


def bool_value(value: Any) -> bool | None:
    """A boolean, also from "true"/"false" strings (Azure AD sends `active` as "False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None
