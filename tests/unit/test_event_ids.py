"""Event ids: equal for identical records, different for records that differ in any field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forwarder.records import LogType, event_id, instant

ACCOUNT = "0123456789abcdef0123456789abcdef"
LOGIN = {
    "ray_id": "8f2a1b3c4d5e6f70",
    "created_at": "2026-11-01T10:00:00Z",
    "user_email": "alice@example.com",
    "ip_address": "198.51.100.7",
    "action": "login",
    "allowed": True,
}


def access_id(record: dict[str, Any]) -> str:
    return event_id(LogType.ACCESS_REQUESTS, ACCOUNT, record)


def test_two_records_sharing_a_ray_id_and_time_get_two_ids() -> None:
    # A login and its logout in the same second, or the same request seen from another IP.
    logout = {**LOGIN, "action": "logout"}
    other_ip = {**LOGIN, "ip_address": "203.0.113.9"}
    assert len({access_id(LOGIN), access_id(logout), access_id(other_ip)}) == 3


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-11-01T10:00:00Z",
        "2026-11-01T10:00:00z",
        "2026-11-01T10:00:00.000Z",
        "2026-11-01T10:00:00.000000000Z",
        "2026-11-01T19:30:00+09:30",
        "2026-11-01T05:00:00-05:00",
        "2026-11-01T10:00:00+00:00",
        "2026-11-01T10:00:00",
        "2026-11-01 10:00:00Z",
    ],
)
def test_every_spelling_of_one_instant_gets_one_id(spelling: str) -> None:
    assert access_id({**LOGIN, "created_at": spelling}) == access_id(LOGIN)


def test_times_differing_below_a_microsecond_get_two_ids() -> None:
    first = {**LOGIN, "created_at": "2026-11-01T10:00:00.000000001Z"}
    second = {**LOGIN, "created_at": "2026-11-01T10:00:00.000000002Z"}
    assert access_id(first) != access_id(second)


def test_key_order_does_not_matter_and_account_and_log_type_do() -> None:
    reordered = dict(reversed(list(LOGIN.items())))
    assert access_id(reordered) == access_id(LOGIN)
    assert event_id(LogType.ACCESS_REQUESTS, "f" * 32, LOGIN) != access_id(LOGIN)
    assert event_id(LogType.SCIM_UPDATES, ACCOUNT, LOGIN) != access_id(LOGIN)


def test_a_scim_update_time_is_normalised_too() -> None:
    update = {"logged_at": "2026-11-01T10:00:00Z", "cf_resource_id": "u1"}
    shifted = {**update, "logged_at": "2026-11-01T12:00:00+02:00"}
    assert event_id(LogType.SCIM_UPDATES, ACCOUNT, update) == event_id(LogType.SCIM_UPDATES, ACCOUNT, shifted)


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:30:00+01:00"])
def test_a_time_that_is_no_instant_is_kept_as_written(value: str) -> None:
    assert instant(value) is None
    assert access_id({**LOGIN, "created_at": value}) != access_id(LOGIN)


# What orjson.loads can return for an API body: integers past 64 bits arrive as floats.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.text(max_size=10), json_values)
def test_records_that_differ_in_any_field_get_different_ids(
    record: dict[str, Any], name: str, value: Any
) -> None:
    changed = {**record, name: value}
    # JSON-equal, not Python-equal: `true` and `1` are two different records.
    if orjson.dumps(changed, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        record, option=orjson.OPT_SORT_KEYS
    ):
        assert access_id(changed) == access_id(record)
    elif name != "created_at":
        assert access_id(changed) != access_id(record)
