"""The direct OCSF encoder writes exactly the bytes of the reference mapping, for any record.

``encode_ocsf`` skips building the document for well-formed access requests; the reference
(``orjson.dumps(to_ocsf(record))``) decides everything. These tests hold the two to byte equality:
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

from fakes.cloudflare.config import ACCESS_REQUESTS, RateLimit, SimulatorConfig
from fakes.cloudflare.record_store import RecordStore
from forwarder.formats import encoder_for, mapper_for, ocsf_json
from forwarder.formats.known_fields import ACCESS_FIELDS
from forwarder.formats.ocsf import to_ocsf
from forwarder.formats.well_formed import FAST_FIELDS
from forwarder.records import LogType, Record, make_record
from tests.support.record_strategies import _emails, _records, _timestamps, _uuids
from tests.unit.mapping_support import GOLDEN, OBSERVED

_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"


# (format, the fast path alone: bytes or None, the encoder, the reference mapping)
FORMATS = {
    "ocsf": (ocsf_json._authentication, ocsf_json.encode_ocsf, to_ocsf),
}


def _assert_same_bytes(record: Record) -> None:
    for _, encode, reference in FORMATS.values():
        assert encode(record) == orjson.dumps(reference(record))


def test_the_fast_paths_write_every_known_access_field() -> None:
    # A field the mappings learn but the encoder does not would otherwise be left out silently;
    # with the sets equal, a new field makes records with it fall back to the reference. `country`
    # (only exports carry it) is left to the reference on purpose.
    assert ACCESS_FIELDS - {"country"} == FAST_FIELDS


@_SETTINGS
@given(_records(LogType.ACCESS_REQUESTS))
def test_any_access_request_encodes_to_the_reference_bytes(case: tuple[Record, dict[str, Any]]) -> None:
    _assert_same_bytes(case[0])


@_SETTINGS
@given(_records(LogType.SCIM_UPDATES))
def test_any_scim_update_encodes_to_the_reference_bytes(case: tuple[Record, dict[str, Any]]) -> None:
    _assert_same_bytes(case[0])


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), st.just(...), strategy)


def _odd_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(""),
        st.just("x"),
        st.just(" "),
        st.just("256.1.1.1"),
        st.integers(-5, 5),
        st.booleans(),
        st.floats(allow_nan=False),
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
        st.dictionaries(st.text(), st.none()),
        st.text(max_size=5),
    )


_WELL_FORMED = {
    "action": _optional(st.sampled_from(["login", "logout", "LOGIN", "sso", "ssh_login", 'say "hi"\n'])),
    "allowed": _optional(st.booleans()),
    "app_domain": _optional(
        st.sampled_from(
            [
                "test.example.com/admin",
                "https://a.example.com:8443/x",
                "a.example.com/x?y=1&z",
                "[::1",
                "é.example",
            ]
        )
    ),
    "app_uid": _optional(_uuids),
    "connection": _optional(
        st.sampled_from(["saml", "azureAD", "onetimepin", "Google Workspace", "github", "o\u00efdc"])
    ),
    "country_code": _optional(st.sampled_from(["PT", "us"])),
    "created_at": _timestamps(),
    "ip_address": _optional(st.ip_addresses().map(str) | st.ip_addresses(v=6).map(lambda a: a.exploded)),
    "ray_id": _optional(st.text(min_size=1, max_size=16)),
    "user_email": _optional(_emails),
    # Sometimes the same as the email: ECS's related.user then names it once.
    "user_id": st.one_of(st.just(None), st.just(...), _uuids, st.just("ana@example.com")),
}


@st.composite
def _well_formed(draw: st.DrawFn) -> Record:
    """Access requests whose fields are absent, null or values both classes take: the fast paths."""
    data = {key: value for key, strategy in _WELL_FORMED.items() if (value := draw(strategy)) is not ...}
    if draw(st.booleans()):
        data["user_email"] = "ana@example.com"
    if data.get("ip_address") is None:
        # OCSF has no place for a country without an address: the reference keeps it in unmapped.
        data.pop("country_code", None)
    account = draw(st.sampled_from([ACCOUNT, ""]))
    return make_record(LogType.ACCESS_REQUESTS, account, data, observed=OBSERVED)


@_SETTINGS
@given(_well_formed())
def test_a_well_formed_access_request_takes_the_fast_paths_to_the_same_bytes(record: Record) -> None:
    assert record.timestamp is not None
    for fast, _, reference in FORMATS.values():
        encoded = fast(record)
        assert encoded is not None
        assert encoded == orjson.dumps(reference(record))


@_SETTINGS
@given(_well_formed(), st.sampled_from(sorted(ACCESS_FIELDS)), _odd_values())
def test_one_odd_field_still_encodes_to_the_reference_bytes(record: Record, key: str, value: Any) -> None:
    data = dict(record.data)
    data[key] = value
    _assert_same_bytes(make_record(LogType.ACCESS_REQUESTS, record.account_id, data, observed=OBSERVED))


_TIME = {"created_at": "2026-11-26T10:00:00Z"}


@pytest.mark.parametrize(
    "data",
    [
        {"country_code": "PT"},
        {"country_code": "PT", "ip_address": "256.1.1.1"},
        {"country_code": "pt", "ip_address": "2001:0db8::1"},
        {"country_code": "1x", "ip_address": "192.0.2.1"},
        {"country": "PT", "ip_address": "192.0.2.1"},
        {"app_domain": "a.example.com:99999/x?", "ray_id": "r"},
        {"user_email": "josé@exämple.com", "user_id": "josé@exämple.com"},
        {"user_email": "ana@example.com", "user_id": "ana@example.com"},
        {"connection": "saml"},
        {"connection": "Yahoo"},
        {"app_uid": "0b1c"},
        {"action": "LOGIN", "allowed": False},
        {"created_at": "2026-11-26T10:00:00+02:00"},
        {"created_at": "yesterday"},
    ],
    ids=repr,
)
def test_edge_shapes_encode_to_the_reference_bytes(data: dict[str, Any]) -> None:
    _assert_same_bytes(make_record(LogType.ACCESS_REQUESTS, ACCOUNT, _TIME | data, observed=OBSERVED))


@pytest.mark.parametrize("name", ["access_requests.cases.ndjson", "access_requests_200.docs_example.json"])
def test_golden_inputs_encode_to_the_reference_bytes(name: str) -> None:
    text = (GOLDEN / "input" / name).read_bytes()
    if name.endswith(".json"):
        items = orjson.loads(text)["result"]
    else:
        items = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert items
    for data in items:
        _assert_same_bytes(make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED))


def test_the_simulators_records_take_the_fast_paths_to_the_same_bytes() -> None:
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
    for fast, _, _ in FORMATS.values():
        assert sum(fast(record) is not None for record in records) > len(records) * 0.9
    for record in records:
        _assert_same_bytes(record)


@pytest.mark.parametrize("fmt", ["raw", "ecs", "ocsf"])
def test_every_formats_encoder_is_its_mapping_encoded(fmt: Any) -> None:
    data = orjson.loads((GOLDEN / "input" / "access_requests_200.docs_example.json").read_bytes())["result"]
    record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data[0], observed=OBSERVED)
    assert encoder_for(fmt)(record) == orjson.dumps(mapper_for(fmt)(record))
