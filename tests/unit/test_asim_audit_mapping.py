"""Account audit logs as ASIM Audit Event rows, rule by rule: the operation, the object, the values, the
actor, and what fits no column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forwarder.formats.asim import to_asim
from forwarder.records import LogType, make_record
from tests.support.asim_columns import AUDIT_EVENT, load, stored_columns, violations

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
OBSERVED = datetime(2026, 8, 20, 12, tzinfo=UTC)
TABLE = load(AUDIT_EVENT)
STORED = {column["name"] for column in stored_columns(TABLE)}


def audit(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "a1000000000000000000000000000001",
        "account": {"id": ACCOUNT, "name": "Example Account"},
        "action": {
            "description": "Update Access policy",
            "result": "success",
            "time": "2026-08-20T09:30:00Z",
            "type": "update",
        },
        "actor": {
            "context": "dash",
            "email": "alice@example.com",
            "id": "f6b5de0326bb5182b8a4840ee01ec774",
            "ip_address": "198.51.100.7",
            "type": "user",
        },
        "resource": {
            "id": "77b2a0c3e4f5061728394a5b6c7d8e9f",
            "product": "access",
            "type": "policy",
            "request": {"decision": "allow"},
        },
        "raw": {"cf_ray_id": "8e9b1c60ef9e1c9a", "method": "PUT", "status_code": 200, "uri": "/accounts/x/y"},
    } | fields
    row = to_asim(make_record(LogType.AUDIT_LOGS, ACCOUNT, data, OBSERVED))
    assert violations(row, TABLE) == [], row
    assert set(row) <= STORED
    return row


@pytest.mark.parametrize(
    ("action_type", "event_type"),
    [("create", "Create"), ("update", "Set"), ("view", "Read"), ("delete", "Delete"), ("rotate", "Other")],
)
def test_the_event_type_follows_the_action_and_the_operation_keeps_its_words(
    action_type: str, event_type: str
) -> None:
    row = audit(action={"type": action_type, "description": "Rotate token", "result": "success"})
    assert (row["EventType"], row["EventOriginalType"], row["Operation"]) == (
        event_type,
        action_type,
        "Rotate token",
    )
    assert (row["EventSchema"], row["EventSchemaVersion"]) == ("AuditEvent", "0.1")


def test_an_entry_without_an_action_is_still_a_whole_row() -> None:
    row = audit(action=None, resource=None, actor=None, raw=None)
    assert (row["EventType"], row["Operation"], row["Object"], row["ObjectType"]) == (
        "Other",
        "Unknown",
        "Unknown",
        "Other",
    )
    assert row["EventResult"] == "NA"


def test_the_object_is_the_resource_and_its_product_the_target_application() -> None:
    row = audit()
    assert (row["Object"], row["ObjectId"], row["ObjectType"]) == (
        "77b2a0c3e4f5061728394a5b6c7d8e9f",
        "77b2a0c3e4f5061728394a5b6c7d8e9f",
        "Policy Rule",
    )
    assert (row["TargetAppName"], row["TargetAppType"]) == ("access", "SaaS application")
    # Cloudflare's own word for the type, which the enumeration cannot hold.
    assert row["AdditionalFields"]["resource"] == {"type": "policy"}
    created = audit(
        action={"type": "create", "result": "failure"}, resource={"product": "dns", "type": "dns_record"}
    )
    assert (created["Object"], created["ObjectType"], created["EventResult"]) == (
        "dns_record",
        "Cloud Resource",
        "Failure",
    )
    assert created["EventSeverity"] == "Low"


def test_the_request_body_is_the_new_value_of_a_creation_or_change_only() -> None:
    changed = audit()
    assert (changed["NewValue"], changed["ValueType"]) == ('{"decision":"allow"}', "Other")
    assert "OldValue" not in changed
    read = audit(action={"type": "view", "result": "success"})
    assert "NewValue" not in read
    assert read["AdditionalFields"]["resource"]["request"] == '{"decision":"allow"}'


def test_the_actor_and_where_it_came_from() -> None:
    row = audit()
    assert (row["ActorUsername"], row["ActorUsernameType"]) == ("alice@example.com", "UPN")
    # A Cloudflare id fits no ASIM user id type: it stays in AdditionalFields, as for Access and SCIM rows.
    assert "ActorUserId" not in row
    assert row["AdditionalFields"]["actor"]["id"] == "f6b5de0326bb5182b8a4840ee01ec774"
    assert (row["ActorUserType"], row["ActorOriginalUserType"]) == ("Regular", "user")
    assert row["SrcIpAddr"] == "198.51.100.7"
    token = audit(
        actor={"type": "account", "id": ACCOUNT, "ip_address": "not an address", "token_name": "tf"}
    )
    assert "ActorUsername" not in token
    assert token["ActorUserType"] == "Service Principal"
    assert "SrcIpAddr" not in token
    assert token["AdditionalFields"]["actor"] == {
        "id": ACCOUNT,
        "ip_address": "not an address",
        "token_name": "tf",
    }


def test_what_fits_no_column_stays_as_the_record_had_it() -> None:
    row = audit(action={"type": "update", "result": "partial"}, zone={"id": "z1", "name": "example.com"})
    assert row["EventResult"] == "NA"
    assert row["EventOriginalUid"] == "a1000000000000000000000000000001"
    assert row["TargetUrl"] == "/accounts/x/y"
    assert (row["DvcScopeId"], row["DvcScope"]) == (ACCOUNT, "Example Account")
    additional = row["AdditionalFields"]
    assert additional["action"] == {"result": "partial"}
    assert additional["raw"] == {"cf_ray_id": "8e9b1c60ef9e1c9a", "method": "PUT", "status_code": 200}
    assert additional["zone"] == {"id": "z1", "name": "example.com"}
    assert additional["actor"] == {"context": "dash", "id": "f6b5de0326bb5182b8a4840ee01ec774"}
    assert "account" not in additional
