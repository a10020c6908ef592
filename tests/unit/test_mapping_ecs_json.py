"""The direct ECS encoder writes exactly the bytes of the reference mapping, for any record.

``encode_ecs`` skips building the document for well-formed access requests; the reference
(``orjson.dumps(to_ecs(record))``) decides everything. These tests hold them to byte equality:
over every record shape the property tests draw, over well-formed records (the fast path, which
must be taken for them), over the golden inputs and over the simulator's records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.mapping import encoder_for, mapper_for
from forwarder.mapping.ecs import to_ecs
from forwarder.mapping.ecs_json import FAST_FIELDS, _access_request, encode_ecs
from forwarder.mapping.known_fields import ACCESS_FIELDS
from forwarder.records import LogType, Record, make_record
from forwarder.simulator.config import ACCESS_REQUESTS, RateLimit, SimulatorConfig
from forwarder.simulator.record_store import RecordStore
from tests.unit.mapping_support import OBSERVED
from tests.unit.test_mapping_golden import GOLDEN
from tests.unit.test_mapping_properties import _emails, _ips, _records, _timestamps, _uuids

_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


def _reference(record: Record) -> bytes:
    return orjson.dumps(to_ecs(record))


def test_the_fast_path_writes_every_known_access_field() -> None:
    # A field the mapping learns but this encoder does not would otherwise be left out silently;
    # with the sets equal, a new field makes records with it fall back to the reference.
    assert FAST_FIELDS == ACCESS_FIELDS


@_SETTINGS
@given(_records(LogType.ACCESS_REQUESTS))
def test_any_access_request_encodes_to_the_reference_bytes(case: tuple[Record, dict[str, Any]]) -> None:
    record, _ = case
    assert encode_ecs(record) == _reference(record)


@_SETTINGS
@given(_records(LogType.SCIM_UPDATES))
def test_any_scim_update_encodes_to_the_reference_bytes(case: tuple[Record, dict[str, Any]]) -> None:
    record, _ = case
    assert encode_ecs(record) == _reference(record)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), st.just(...), strategy)


_WELL_FORMED = {
    "action": _optional(st.sampled_from(["login", "logout", "LOGIN", "sso", "ssh_login", 'say "hi"\n'])),
    "allowed": _optional(st.booleans()),
    "app_domain": _optional(
        st.sampled_from(["test.example.com/admin", "https://a.example.com:8443/x", "[::1", "é.example"])
    ),
    # Kept verbatim under cloudflare.access, whatever JSON it is.
    "app_uid": _optional(_uuids | st.integers(-(2**63), 2**63 - 1) | st.lists(st.text(max_size=3))),
    "connection": _optional(st.sampled_from(["saml", "azureAD", "onetimepin", "Google Workspace"])),
    "country_code": _optional(st.sampled_from(["PT", "us", "é\n"])),
    "created_at": _timestamps(),
    "ip_address": _optional(_ips()),
    "ray_id": _optional(st.text(min_size=1, max_size=16)),
    "user_email": _optional(_emails),
    # Sometimes the same as the email: related.user then names it once.
    "user_id": st.one_of(st.just(None), st.just(...), _uuids, st.just("ana@example.com")),
}


@st.composite
def _well_formed(draw: st.DrawFn) -> Record:
    """Access requests whose fields are absent, null or of the documented type: the fast path."""
    data = {key: value for key, strategy in _WELL_FORMED.items() if (value := draw(strategy)) is not ...}
    if draw(st.booleans()):
        data["user_email"] = "ana@example.com"
    account = draw(st.sampled_from([ACCOUNT, ""]))
    return make_record(LogType.ACCESS_REQUESTS, account, data, observed=OBSERVED)


@_SETTINGS
@given(_well_formed())
def test_a_well_formed_access_request_takes_the_fast_path_to_the_same_bytes(record: Record) -> None:
    assert record.timestamp is not None
    encoded = _access_request(record)
    assert encoded is not None
    assert encoded == _reference(record)


@pytest.mark.parametrize("name", ["access_requests.cases.ndjson", "access_requests_200.docs_example.json"])
def test_golden_inputs_encode_to_the_reference_bytes(name: str) -> None:
    text = (GOLDEN / "input" / name).read_bytes()
    if name.endswith(".json"):
        items = orjson.loads(text)["result"]
    else:
        items = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert items
    for data in items:
        record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED)
        assert encode_ecs(record) == _reference(record)


def test_the_simulators_records_take_the_fast_path_to_the_same_bytes() -> None:
    end = datetime(2026, 11, 26, tzinfo=UTC)
    store = RecordStore(
        SimulatorConfig(
            accounts=[ACCOUNT],
            seed=3,
            start=end - timedelta(hours=1),
            end=end,
            access_per_minute=50,
            scim_per_minute=0.0,
            rate_limit=RateLimit(requests=10**9, period=300.0, block=0.0),
        ),
        clock=end.timestamp,
    )
    store.generate_all()
    records = [
        make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED)
        for data in store.records(ACCOUNT, ACCESS_REQUESTS)
    ]
    assert len(records) > 1000
    fast = sum(_access_request(record) is not None for record in records)
    assert fast > len(records) * 0.9
    for record in records:
        assert encode_ecs(record) == _reference(record)


@pytest.mark.parametrize("fmt", ["raw", "ecs", "ocsf"])
def test_every_formats_encoder_is_its_mapping_encoded(fmt: Any) -> None:
    data = orjson.loads((GOLDEN / "input" / "access_requests_200.docs_example.json").read_bytes())["result"]
    record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data[0], observed=OBSERVED)
    assert encoder_for(fmt)(record) == orjson.dumps(mapper_for(fmt)(record))
