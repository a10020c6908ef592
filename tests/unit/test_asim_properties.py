"""Property tests: every record shape the API allows maps to a row its ASIM column table accepts.

The records are those of the ECS and OCSF property tests (tests/support/record_strategies.py): every field
missing, null, well-formed or odd, unknown fields added, SCIM bodies of every shape, audit log objects with
members of any JSON type.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings

from forwarder.formats import encoder_for
from forwarder.formats.asim import to_asim
from forwarder.formats.outcome import Outcome, outcome
from forwarder.formats.values import iso_timestamp
from forwarder.records import LogType, Record
from tests.support.asim_columns import (
    AUDIT_EVENT,
    AUTHENTICATION,
    USER_MANAGEMENT,
    load,
    stored_columns,
    violations,
)
from tests.support.record_strategies import SECRET, _records

TABLES = {
    LogType.ACCESS_REQUESTS: load(AUTHENTICATION),
    LogType.SCIM_UPDATES: load(USER_MANAGEMENT),
    LogType.AUDIT_LOGS: load(AUDIT_EVENT),
}
STORED = {
    log_type: {column["name"] for column in stored_columns(table)} for log_type, table in TABLES.items()
}
RESULTS = {Outcome.SUCCESS: "Success", Outcome.FAILURE: "Failure", Outcome.UNKNOWN: "NA"}


def check(record: Record, extra: dict[str, Any]) -> None:
    row = to_asim(record)
    assert violations(row, TABLES[record.log_type]) == [], row
    assert set(row) <= STORED[record.log_type], set(row) - STORED[record.log_type]
    # The event's own time in all three, to the microsecond (the service may replace TimeGenerated).
    assert row["TimeGenerated"] == row["EventStartTime"] == row["EventEndTime"]
    assert row["EventStartTime"][:19] == iso_timestamp(record.time)[:19]
    assert row["EventResult"] == RESULTS[outcome(record)]
    assert row["EventUid"] == record.event_id
    # Unknown fields survive, verbatim, where every ASIM table keeps what fits no column.
    for key, value in extra.items():
        assert row["AdditionalFields"][key] == value
    encoded = encoder_for("asim")(record)
    assert orjson.loads(encoded) == row
    assert SECRET.encode() not in encoded
    assert to_asim(record) == row


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(_records(LogType.ACCESS_REQUESTS))
def test_any_access_request_is_a_valid_asim_authentication_row(case: tuple[Record, dict[str, Any]]) -> None:
    check(*case)


@SETTINGS
@given(_records(LogType.SCIM_UPDATES))
def test_any_scim_update_is_a_valid_asim_user_management_row(case: tuple[Record, dict[str, Any]]) -> None:
    check(*case)


@SETTINGS
@given(_records(LogType.AUDIT_LOGS))
def test_any_audit_log_entry_is_a_valid_asim_audit_event_row(case: tuple[Record, dict[str, Any]]) -> None:
    check(*case)
