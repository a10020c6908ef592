"""The shortcuts event ids take per record give the ids the full computation gives.

`_spelled_as_instant` lets `event_id` skip `instant` for times already written as their instant;
`event_id` tries orjson's plain path before the OPT_NON_STR_KEYS one. Ids are remembered in
checkpoints and used as Elasticsearch `_id`s: they must never change.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.records import LogType, _spelled_as_instant, event_id, instant, make_record, parse_timestamp

ACCOUNT = "0123456789abcdef0123456789abcdef"
# What orjson.loads can return: integers past 64 bits arrive as floats.
_int64 = st.integers(-(2**63), 2**63 - 1)

_digits = st.text("0123456789", min_size=1, max_size=12)
# Times shaped like Cloudflare's, with every character of the shape open to change, beside any text.
_near_times = st.builds(
    lambda moment, separator, fraction, zone: (
        moment.isoformat(timespec="seconds").replace("T", separator) + fraction + zone
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["T", "t", " ", "x"]),
    st.one_of(st.just(""), st.just("."), _digits.map(lambda digits: "." + digits)),
    st.sampled_from(["Z", "z", "", "+00:00", "-05:00", "+09:30", "0Z", "ZZ"]),
)


def _reference_id(log_type: LogType, account_id: str, data: dict[str, Any]) -> str:
    """The id as it was first defined: always `instant`, always OPT_NON_STR_KEYS."""
    path = log_type.description.time_path
    value = data.get(path[0])
    canonical = instant(value) if isinstance(value, str) else None
    if canonical is not None and canonical != value:
        data = {**data, path[0]: canonical}
    key = orjson.dumps(
        [account_id, log_type.value, data],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    return hashlib.blake2b(key, digest_size=16).hexdigest()


@settings(max_examples=500)
@given(st.one_of(_near_times, st.text(max_size=30)))
def test_a_time_taken_as_already_an_instant_is_one(value: str) -> None:
    if _spelled_as_instant(value):
        assert instant(value) in (None, value)


@settings(max_examples=300)
@given(
    st.one_of(_near_times, st.text(max_size=30), _int64, st.none()),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6) | _int64 | st.none(), max_size=4),
)
def test_event_ids_equal_the_reference_computation(time: Any, rest: dict[str, Any]) -> None:
    data = {**rest, "created_at": time}
    assert event_id(LogType.ACCESS_REQUESTS, ACCOUNT, data) == _reference_id(
        LogType.ACCESS_REQUESTS, ACCOUNT, data
    )


def test_a_record_with_keys_that_are_not_strings_still_gets_its_id() -> None:
    data: dict[Any, Any] = {
        1: "one",
        "created_at": "2026-11-01T10:00:00Z",
        datetime(2026, 1, 1, tzinfo=UTC): 2,
    }
    assert event_id(LogType.ACCESS_REQUESTS, ACCOUNT, data) == _reference_id(
        LogType.ACCESS_REQUESTS, ACCOUNT, data
    )


@settings(max_examples=300)
@given(
    st.sampled_from(list(LogType)),
    st.text(max_size=8),
    st.one_of(_near_times, st.text(max_size=30), _int64, st.none()),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6) | _int64 | st.none(), max_size=4),
)
def test_make_record_gives_the_reference_id_and_the_parsed_time(
    log_type: LogType, account_id: str, time: Any, rest: dict[str, Any]
) -> None:
    """make_record's own shortcut (one spelling check for the id and the time, the stream's part of
    the id hashed once per account) against the reference, for any account text and log type."""
    path = log_type.description.time_path
    data = {**rest, path[0]: time} if len(path) == 1 else {**rest, path[0]: {path[1]: time}}
    observed = datetime(2026, 12, 5, tzinfo=UTC)
    record = make_record(log_type, account_id, data, observed)
    if len(path) == 1:
        # The reference canonicalizes top-level times only; event_id is held to it above.
        assert record.event_id == _reference_id(log_type, account_id, data)
    assert record.event_id == event_id(log_type, account_id, data)
    assert record.timestamp == parse_timestamp(time)
    assert record.timestamp is None or record.timestamp.tzinfo is UTC
