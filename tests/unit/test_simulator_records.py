"""Generated records: deterministic by seed, as messy as the real API, visible only when their time comes."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from fakes.cloudflare import ACCESS_REQUESTS, SCIM_UPDATES, DataProfile, ManualClock, SimulatorConfig
from fakes.cloudflare.record_store import RecordStore
from fakes.cloudflare.timestamps import NANOSECONDS, from_datetime, parse_rfc3339

ACCOUNT = "0123456789abcdef0123456789abcdef"
OTHER_ACCOUNT = "fedcba9876543210fedcba9876543210"
END = datetime(2026, 1, 1, tzinfo=UTC)
ACCESS_FIELDS = {
    "user_email",
    "ip_address",
    "app_uid",
    "app_domain",
    "action",
    "connection",
    "allowed",
    "created_at",
    "ray_id",
}
SCIM_FIELDS = {
    "cf_resource_id",
    "error_description",
    "idp_id",
    "idp_resource_id",
    "logged_at",
    "request_body",
    "request_method",
    "resource_group_name",
    "resource_type",
    "resource_user_email",
    "status",
}


def make_config(seed: int = 7, hours: float = 24, **changes: object) -> SimulatorConfig:
    arguments: dict[str, object] = {
        "accounts": [ACCOUNT, OTHER_ACCOUNT],
        "seed": seed,
        "start": END - timedelta(hours=hours),
        "end": END,
        "access_per_minute": 10.0,
        "scim_per_minute": 5.0,
    }
    arguments.update(changes)
    return SimulatorConfig(**arguments)  # type: ignore[arg-type]


def settled_store(config: SimulatorConfig) -> RecordStore:
    """A store whose clock is past every late record's delay."""
    return RecordStore(config, ManualClock(END.timestamp() + 3600))


def test_same_seed_same_records_other_seed_other_records() -> None:
    first = settled_store(make_config(seed=7, hours=2))
    again = settled_store(make_config(seed=7, hours=2))
    other = settled_store(make_config(seed=8, hours=2))
    for log_type in (ACCESS_REQUESTS, SCIM_UPDATES):
        assert first.records(ACCOUNT, log_type) == again.records(ACCOUNT, log_type)
        assert first.records(ACCOUNT, log_type) != other.records(ACCOUNT, log_type)
        assert first.records(ACCOUNT, log_type) != first.records(OTHER_ACCOUNT, log_type)


@pytest.fixture(scope="module")
def access_records() -> list[dict[str, object]]:
    return settled_store(make_config()).records(ACCOUNT, ACCESS_REQUESTS)


@pytest.fixture(scope="module")
def scim_records() -> list[dict[str, object]]:
    return settled_store(make_config()).records(ACCOUNT, SCIM_UPDATES)


def test_rate_sets_the_count(
    access_records: list[dict[str, object]], scim_records: list[dict[str, object]]
) -> None:
    assert len(access_records) == 10 * 60 * 24
    assert len(scim_records) == 5 * 60 * 24


def test_access_records_have_every_shape_of_value(access_records: list[dict[str, object]]) -> None:
    emails = {record.get("user_email") for record in access_records}
    addresses = [str(record["ip_address"]) for record in access_records if record.get("ip_address")]
    assert "jösé@exämple.com" in emails
    assert any(isinstance(email, str) and "xn--" in email for email in emails)
    assert any(isinstance(email, str) and not email.isascii() for email in emails)
    assert any(":" in address for address in addresses)
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) for address in addresses)
    assert {"login", "logout", "sso"} < {record.get("action") for record in access_records}
    assert {"saml", "oidc", "onetimepin", "github", "azureAD", "okta"} <= {
        record.get("connection") for record in access_records
    }
    assert {True, False} <= {record.get("allowed") for record in access_records}
    ray_ids = [record["ray_id"] for record in access_records if record.get("ray_id") is not None]
    assert all(re.fullmatch(r"[0-9a-f]{16}", str(ray_id)) for ray_id in ray_ids)
    assert len(set(ray_ids)) == len(ray_ids)


def test_timestamps_have_every_precision_and_some_repeat(access_records: list[dict[str, object]]) -> None:
    stamps = [str(record["created_at"]) for record in access_records if record.get("created_at")]
    digits = Counter(len(match.group(1)) if (match := re.search(r"\.(\d+)Z$", s)) else 0 for s in stamps)
    assert set(digits) == {0, 3, 5, 6, 9}
    assert len(set(stamps)) < len(stamps), "several records share a timestamp"
    times = [parse_rfc3339(stamp) for stamp in stamps]
    assert times == sorted(times)  # type: ignore[type-var]


def test_fields_go_missing_null_and_extra(access_records: list[dict[str, object]]) -> None:
    missing = Counter(name for record in access_records for name in ACCESS_FIELDS - set(record))
    nulls = Counter(name for record in access_records for name, value in record.items() if value is None)
    extras = {name for record in access_records for name in set(record) - ACCESS_FIELDS}
    assert set(missing) == ACCESS_FIELDS
    assert set(nulls) >= ACCESS_FIELDS
    assert extras == {"country"}
    assert any(len(record) <= 2 for record in access_records), "some records have almost nothing"
    unique = {json.dumps(record, sort_keys=True) for record in access_records}
    assert len(unique) == len(access_records), "no two records are identical"


def test_scim_records_look_like_scim(scim_records: list[dict[str, object]]) -> None:
    assert {"USER", "GROUP"} <= {record.get("resource_type") for record in scim_records}
    assert {"POST", "PUT", "PATCH", "DELETE"} <= {record.get("request_method") for record in scim_records}
    assert {"SUCCESS", "FAILURE", "ERROR"} <= {record.get("status") for record in scim_records}
    failures = [record for record in scim_records if record.get("status") == "FAILURE"]
    assert sum("error_description" in record for record in failures) > len(failures) / 2
    bodies = [
        record["request_body"] for record in scim_records if isinstance(record.get("request_body"), str)
    ]
    assert "{}}" in bodies
    parsed = []
    for body in bodies:
        try:
            parsed.append(json.loads(str(body)))
        except json.JSONDecodeError:
            continue
    assert any("password" in body for body in parsed if isinstance(body, dict))
    assert any("Operations" in body for body in parsed if isinstance(body, dict))
    assert any("displayName" in body and "members" in body for body in parsed if isinstance(body, dict))
    assert any("userName" in body and "emails" in body for body in parsed if isinstance(body, dict))
    missing = {name for record in scim_records for name in SCIM_FIELDS - set(record)}
    assert missing == SCIM_FIELDS
    assert any(set(record) - SCIM_FIELDS for record in scim_records)


def test_late_records_appear_after_their_delay() -> None:
    clock = ManualClock(END.timestamp())
    profile = DataProfile(late=0.5, late_max_delay=60.0)
    store = RecordStore(make_config(hours=1, profile=profile), clock)
    everything = store.records(ACCOUNT, ACCESS_REQUESTS)
    stream = store.stream(ACCOUNT, ACCESS_REQUESTS)
    visible_now = len(stream.window(None, None))
    assert visible_now < len(everything)
    clock.advance(61)
    assert len(store.stream(ACCOUNT, ACCESS_REQUESTS).window(None, None)) == len(everything)


def test_future_records_wait_for_their_time() -> None:
    clock = ManualClock((END - timedelta(minutes=30)).timestamp())
    store = RecordStore(make_config(hours=1, profile=DataProfile(late=0.0)), clock)
    total = len(store.records(ACCOUNT, SCIM_UPDATES))
    stream = store.stream(ACCOUNT, SCIM_UPDATES)
    now_ns = from_datetime(END - timedelta(minutes=30))
    assert 0 < len(stream.window(None, None)) < total
    assert len(stream.window(now_ns + 1, None)) == 0
    clock.advance(1800)
    assert len(store.stream(ACCOUNT, SCIM_UPDATES).window(None, None)) == total


def test_injected_records_are_ground_truth_at_once_and_visible_later() -> None:
    clock = ManualClock(END.timestamp() + 3600)
    store = RecordStore(make_config(hours=1, access_per_minute=0.0), clock)
    record = {"created_at": "2025-12-31T23:30:00.5Z", "ray_id": "00000000000000aa", "country": "PT"}
    untimed = {"ray_id": "00000000000000bb"}
    assert store.add(ACCOUNT, ACCESS_REQUESTS, [record, untimed], visible_after=30.0) == 2
    assert store.records(ACCOUNT, ACCESS_REQUESTS) == [record, untimed]
    assert len(store.stream(ACCOUNT, ACCESS_REQUESTS).window(None, None)) == 0
    clock.advance(30)
    stream = store.stream(ACCOUNT, ACCESS_REQUESTS)
    assert [stream.record_at(position) for position in stream.window(None, None)] == [record, untimed]
    untimed_at = stream.window(int((clock() - 31) * NANOSECONDS), None)
    assert [stream.record_at(position) for position in untimed_at] == [untimed], (
        "placed at the moment it came"
    )


def test_unknown_account_or_log_type_is_refused() -> None:
    store = settled_store(make_config(hours=1))
    with pytest.raises(KeyError):
        store.records("00000000000000000000000000000000", ACCESS_REQUESTS)
    with pytest.raises(KeyError):
        store.records(ACCOUNT, "dns_queries")
