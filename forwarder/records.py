"""The log types (where each is read, how it pages, where its time is), records and their event ids.

A record is kept exactly as the API returned it (``data``): every field is optional and unknown
fields must survive to the mapping, so nothing here validates or drops anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import orjson

# What the source adds to a SCIM update record when it prepares its body (source/scim_bodies.py):
# the redacted body as JSON, and what was done to it. The formats read these; their presence marks
# a prepared record.
PARSED_KEY = "request_body_parsed"
INFO_KEY = "request_body_info"


class LogType(StrEnum):
    ACCESS_REQUESTS = "access_requests"
    SCIM_UPDATES = "scim_updates"
    AUDIT_LOGS = "audit_logs"

    @property
    def description(self) -> LogTypeDescription:
        return DESCRIPTIONS[self]

    @property
    def time_field(self) -> str:
        """The top-level field that carries the event time (``action`` for audit logs)."""
        return DESCRIPTIONS[self].time_path[0]

    def time_value(self, data: Mapping[str, Any]) -> Any:
        """The event time of ``data`` as the API wrote it; None when missing."""
        return time_value(self, data)


class Paging(StrEnum):
    # `page` and `per_page`; the end is a short, empty or last page (`result_info.total_pages`).
    PAGE_NUMBERS = "page_numbers"
    # `limit` and an opaque `cursor` from `result_info.cursor`; the end is an answer without one.
    CURSOR = "cursor"


@dataclass(frozen=True, slots=True)
class LogTypeDescription:
    """What reading one log type takes: everything paging.py and streams.py need to know about it."""

    # Relative to the API base, with `{account_id}`.
    path: str
    paging: Paging
    # Where the event time is: a top-level field, or an object and its field.
    time_path: tuple[str, ...]
    # The query parameter that ends a window (exclusive in every log type).
    until_parameter: str = "until"
    # The API documents `since` as "newer than": a row exactly at `since` would be left out.
    since_exclusive: bool = False
    # The query parameters that carry the page size.
    size_parameters: tuple[str, ...] = ("per_page",)
    # SCIM logs are read per identity provider (`idp_id`, required by the API).
    needs_identity_providers: bool = False
    # Read unless FORWARDER_LOG_TYPES says otherwise.
    on_by_default: bool = True


DESCRIPTIONS: Mapping[LogType, LogTypeDescription] = MappingProxyType(
    {
        LogType.ACCESS_REQUESTS: LogTypeDescription(
            path="/accounts/{account_id}/access/logs/access_requests",
            paging=Paging.PAGE_NUMBERS,
            time_path=("created_at",),
            # Before `per_page` existed `limit` was the page size (the 2024 spec has only it);
            # sending both keeps a server that still reads `limit` from cutting pages short.
            size_parameters=("per_page", "limit"),
        ),
        LogType.SCIM_UPDATES: LogTypeDescription(
            path="/accounts/{account_id}/access/logs/scim/updates",
            paging=Paging.PAGE_NUMBERS,
            time_path=("logged_at",),
            needs_identity_providers=True,
        ),
        LogType.AUDIT_LOGS: LogTypeDescription(
            path="/accounts/{account_id}/logs/audit",
            paging=Paging.CURSOR,
            time_path=("action", "time"),
            until_parameter="before",
            since_exclusive=True,
            size_parameters=("limit",),
            on_by_default=False,
        ),
    }
)


def _time_value(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _with_time_value(data: Mapping[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    """A copy of ``data`` with the time at ``path`` replaced; the objects on the way are copied too."""
    head, *rest = path
    if not rest:
        return {**data, head: value}
    inner = data[head]
    return {**data, head: _with_time_value(inner, tuple(rest), value)}


@dataclass(slots=True)
class Record:
    """One log record of one account, as the Cloudflare API returned it. Treat it as immutable.

    Not a frozen dataclass: its ``__init__`` costs four times as much, once per record.
    """

    log_type: LogType
    account_id: str
    data: Mapping[str, Any]
    event_id: str
    # Parsed from created_at / logged_at / action.time; None when the field is missing or unparseable.
    timestamp: datetime | None
    # When the forwarder fetched the record: the fallback event time for a record without one.
    observed: datetime

    @property
    def time(self) -> datetime:
        return self.timestamp if self.timestamp is not None else self.observed


# Below this, a number is epoch seconds; from it on, milliseconds. 10^11 seconds is the year 5138,
# 10^11 milliseconds is March 1973: no log time is ambiguous.
_MILLISECONDS_FROM = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: Any) -> datetime | None:
    """RFC 3339, or epoch seconds or milliseconds, to an aware UTC datetime; anything else
    (missing, null, garbage) to None.

    Cloudflare sends fractions of 1 to 9 digits; Python keeps microseconds, which is what every
    sink can represent anyway. A time without an offset is taken as UTC, as the API means it.
    Numbers are what Logpush and some exports write (Elastic's Cloudflare pipeline reads both).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # An offset can push year 1 or 9999 out of range: such a time is as good as none.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_epoch(value: float) -> datetime | None:
    # timedelta keeps whole milliseconds exact, where dividing by 1000 in floats may not.
    try:
        if abs(value) >= _MILLISECONDS_FROM:
            return _EPOCH + timedelta(milliseconds=value)
        return _EPOCH + timedelta(seconds=value)
    except (ValueError, OverflowError):
        # NaN, infinity, or a time outside years 1-9999.
        return None


# RFC 3339 as Cloudflare writes it: 1 to 9 fraction digits, `Z` or an offset (none: UTC, as
# `parse_timestamp` takes it).
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?")


def instant(value: str) -> str | None:
    """The canonical spelling of the instant an RFC 3339 time names, to the nanosecond and beyond.

    ``2026-11-01T09:30:00.50+09:30`` and ``2026-11-01T00:00:00.5Z`` are one instant and get one
    spelling: UTC, ``Z``, the fraction without trailing zeros. ``datetime`` keeps microseconds only,
    so the fraction is carried as text. None when ``value`` is not such a time.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    date, clock, fraction, offset = match.groups()
    whole = _whole_seconds_utc(date, clock, offset)
    if whole is None:
        return None
    digits = (fraction or "").rstrip("0")
    return f"{whole}.{digits}Z" if digits else f"{whole}Z"


@lru_cache(maxsize=65536)
def _whole_seconds_utc(date: str, clock: str, offset: str | None) -> str | None:
    """``date``T``clock`` at ``offset``, in UTC to the second; None when it is no time. Records of a
    page share their seconds: cached, this costs one dictionary lookup per record."""
    zone = "+00:00" if offset is None or offset in "Zz" else offset
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}{zone}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def event_id(log_type: LogType, account_id: str, data: Mapping[str, Any]) -> str:
    """A stable id for a record: equal for identical records, different when any field differs.

    The whole canonical record is hashed: keys sorted (the API's key order does not matter) and
    the time field written as the instant it names (``+09:30`` and ``Z`` spellings agree). A Ray ID
    is not enough: one request can log twice in the same second (a login and its logout, another
    IP), and Elasticsearch would answer 409 for the second and lose it. The account and log type
    are part of the key so that equal records of two accounts stay two events. 32 hex characters:
    well under Elasticsearch's 512-byte `_id` limit.
    """
    return _event_id(log_type, account_id, data, time_value(log_type, data))


def _event_id(log_type: LogType, account_id: str, data: Mapping[str, Any], value: Any) -> str:
    """:func:`event_id`, with the record's time value (``time_value``) already looked up."""
    if isinstance(value, str) and not _spelled_as_instant(value):
        canonical = instant(value)
        if canonical is not None and canonical != value:
            data = _with_time_value(data, TIME_PATHS[log_type], canonical)
    return _hashed(log_type, account_id, data)


def _hashed(log_type: LogType, account_id: str, data: Mapping[str, Any]) -> str:
    """The id of a record whose time is already spelled as its instant: BLAKE2b-128 of
    ``orjson.dumps([account_id, log_type, data], option=OPT_SORT_KEYS)``.

    That JSON is the stream's constant ``["<account>","<log type>",`` and then the record's; the
    stream's part is hashed once and the hash state copied per record (no list to build, no enum
    to encode). ``test_event_id_shortcuts.py`` holds this to hashing the whole list."""
    return _hashed_after(_stream_state(log_type, account_id), data)


def _stream_state(log_type: LogType, account_id: str) -> hashlib.blake2b:
    """The hash state after the stream's part of the id's JSON (see :func:`_hashed`)."""
    streams = _STREAM_HASHES[log_type]
    stream = streams.get(account_id)
    if stream is None:
        stream = _stream_hash(streams, log_type, account_id)
    return stream


def _hashed_after(stream: hashlib.blake2b, data: Mapping[str, Any]) -> str:
    """The id of ``data`` from its stream's hash state (:func:`_stream_state`)."""
    try:
        # Every key of a decoded API body is a string: orjson's plain (faster) path writes the
        # same bytes as the OPT_NON_STR_KEYS one below, which keeps the function total.
        record = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        record = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    state = stream.copy()
    state.update(record)
    state.update(b"]")
    return state.hexdigest()


# Per log type, per account: the hash state after the stream's part of the id's JSON.
_STREAM_HASHES: dict[LogType, dict[str, hashlib.blake2b]] = {log_type: {} for log_type in LogType}


def _stream_hash(streams: dict[str, hashlib.blake2b], log_type: LogType, account_id: str) -> hashlib.blake2b:
    if len(streams) >= 4096:
        # Accounts are configured, so this never fills in a run; bounded all the same.
        streams.clear()
    # `[account, log type]` without its closing bracket, and the comma before the record.
    prefix = orjson.dumps([account_id, log_type])[:-1] + b","
    stream = streams[account_id] = hashlib.blake2b(prefix, digest_size=16)
    return stream


def _spelled_as_instant(value: str) -> bool:
    """Whether :func:`instant` would give ``value`` itself or None, told without parsing it: a
    ``T`` after the date, a ``Z`` at the end and no trailing zero in the fraction (how Cloudflare
    writes its times). ``test_event_id_shortcuts.py`` holds this to ``instant`` (hypothesis)."""
    return (
        value[10:11] == "T"
        and value[-1:] == "Z"
        and (len(value) == 20 or (value[-2:-1] != "0" and value[19:20] == "."))
    )


# Where each log type keeps its time, looked up once per record: cheaper than the property.
TIME_PATHS = {log_type: log_type.description.time_path for log_type in LogType}


def time_value(log_type: LogType, data: Mapping[str, Any]) -> Any:
    """The event time of ``data`` as the API wrote it; None when missing (see LogType.time_value)."""
    path = TIME_PATHS[log_type]
    return data.get(path[0]) if len(path) == 1 else _time_value(data, path)


def make_record(
    log_type: LogType, account_id: str, data: Mapping[str, Any], observed: datetime | None = None
) -> Record:
    return make_records(
        log_type, account_id, (data,), observed if observed is not None else datetime.now(UTC)
    )[0]


def make_records(
    log_type: LogType, account_id: str, items: Iterable[Mapping[str, Any]], observed: datetime
) -> list[Record]:
    """A record of each of ``items`` (a page of one stream, read at ``observed``).

    One loop per page: the time path and the stream's hash state are looked up once, not once per
    record, and no call per record wraps the work."""
    path = TIME_PATHS[log_type]
    top = path[0] if len(path) == 1 else None
    stream = _stream_state(log_type, account_id)
    records: list[Record] = []
    append = records.append
    for data in items:
        time = data.get(top) if top is not None else _time_value(data, path)
        # Positional, in field order: keywords cost twice as much.
        if type(time) is str and _spelled_as_instant(time):
            # Cloudflare's usual spelling (UTC, `Z`): the id needs no canonical copy of the record,
            # and the time parses straight to UTC (`astimezone(UTC)` of a `Z` time is the time
            # itself). One check instead of one per use; the general path below gives the same id
            # and time (`test_event_id_shortcuts.py`).
            try:
                timestamp: datetime | None = datetime.fromisoformat(time)
            except (ValueError, OverflowError):
                timestamp = None
            if timestamp is not None and timestamp.tzinfo is not UTC:
                timestamp = parse_timestamp(time)
            append(Record(log_type, account_id, data, _hashed_after(stream, data), timestamp, observed))
        else:
            identity = _event_id(log_type, account_id, data, time)
            append(Record(log_type, account_id, data, identity, parse_timestamp(time), observed))
    return records
