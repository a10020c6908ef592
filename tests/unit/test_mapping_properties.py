"""Property tests: every record shape the API allows maps to a valid ECS and OCSF document.

Every field is optional in the API, so each known field is drawn missing, null, well-formed or
odd (wrong type, empty, Unicode, control characters); timestamps come with and without fraction
and offset; addresses are IPv4, IPv6 (compressed or not) or garbage; request bodies are SCIM
documents, arbitrary JSON, broken JSON or not strings at all; unknown fields are added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.formats.ecs import to_ecs
from forwarder.formats.ecs_profile import violations
from forwarder.formats.ocsf import to_ocsf
from forwarder.formats.values import epoch_milliseconds, iso_timestamp, iso_timestamp_from
from forwarder.records import LogType, Record, parse_timestamp
from tests.support.record_strategies import (
    SECRET,
    _records,
)
from tests.unit.mapping_support import OCSF_VALIDATORS

_NAMESPACES = {LogType.ACCESS_REQUESTS: "access", LogType.SCIM_UPDATES: "scim", LogType.AUDIT_LOGS: "audit"}


def _check(record: Record, extra: dict[str, Any]) -> None:
    ocsf = to_ocsf(record)
    errors = [error.message for error in OCSF_VALIDATORS[ocsf["class_uid"]].iter_errors(ocsf)]
    assert errors == [], (errors, ocsf)
    assert ocsf["type_uid"] == ocsf["class_uid"] * 100 + ocsf["activity_id"]
    assert ocsf["metadata"]["version"] == "1.8.0"
    assert ocsf["time"] == epoch_milliseconds(record.time)

    ecs = to_ecs(record)
    assert violations(ecs) == [], ecs
    assert ecs["@timestamp"].endswith("Z")

    namespace = {
        LogType.ACCESS_REQUESTS: "access",
        LogType.SCIM_UPDATES: "scim",
        LogType.AUDIT_LOGS: "audit",
    }[record.log_type]
    for key, value in extra.items():
        assert ecs["cloudflare"][namespace][key] == value
        assert ocsf["unmapped"][key] == value

    # Sinks encode with orjson; mapping is deterministic; a planted password never leaves.
    encoded = orjson.dumps(ecs) + orjson.dumps(ocsf)
    assert SECRET.encode() not in encoded
    assert to_ecs(record) == ecs
    assert to_ocsf(record) == ocsf


_SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_records(LogType.ACCESS_REQUESTS))
def test_any_access_request_maps_to_valid_ecs_and_ocsf(case: tuple[Record, dict[str, Any]]) -> None:
    _check(*case)


@_SETTINGS
@given(_records(LogType.SCIM_UPDATES))
def test_any_scim_update_maps_to_valid_ecs_and_ocsf(case: tuple[Record, dict[str, Any]]) -> None:
    _check(*case)


@_SETTINGS
@given(_records(LogType.AUDIT_LOGS))
def test_any_audit_log_maps_to_valid_ecs_and_ocsf(case: tuple[Record, dict[str, Any]]) -> None:
    _check(*case)


_fraction = st.integers(0, 6).flatmap(
    lambda digits: st.just("") if digits == 0 else st.text("0123456789", min_size=digits, max_size=digits)
)
_time_text = st.one_of(
    # Cloudflare's shape, which is copied rather than formatted ...
    st.builds(
        lambda moment, fraction: (
            moment.isoformat(timespec="seconds") + (f".{fraction}" if fraction else "") + "Z"
        ),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
        _fraction,
    ),
    # ... and the other forms the parser accepts, which are formatted.
    st.sampled_from(
        [
            "2026-W48-4T01:45:39.2Z",
            "2026-11-26T01:45:39.123456789Z",
            "2026-11-26T01:45:39,5Z",
            "2026-11-26t01:45:39.5Z",
            "20261126T014539.5Z",
            "2026-11-26T01:45:39.5-00:00",
            "2026-11-26T03:45:39.5+02:00",
            "2026-11-26T01:45:39",
            "2026-11-26",
        ]
    ),
)


@given(_time_text)
def test_a_timestamp_copied_from_the_record_equals_the_formatted_one(raw: str) -> None:
    moment = parse_timestamp(raw)
    assert moment is not None
    assert iso_timestamp_from(raw, moment) == iso_timestamp(moment)
