"""The ASIM column tables and the check that holds a document to them: each kind of violation is caught,
and a conforming document passes (so the checks are not vacuous)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.asim_columns import (
    AUDIT_EVENT,
    AUTHENTICATION,
    USER_MANAGEMENT,
    columns_by_name,
    load,
    stored_columns,
    violations,
)

LOGON: dict[str, Any] = {
    "TimeGenerated": "2026-12-04T10:00:00Z",
    "EventCount": 1,
    "EventStartTime": "2026-12-04T10:00:00Z",
    "EventEndTime": "2026-12-04T10:00:00Z",
    "EventType": "Logon",
    "EventResult": "Success",
    "EventProduct": "Access",
    "EventVendor": "Cloudflare",
    "EventSchema": "Authentication",
    "EventSchemaVersion": "0.1.4",
    "Dvc": "Access",
    "TargetUsername": "ada@example.com",
    "TargetUsernameType": "UPN",
    "SrcIpAddr": "2001:db8::1",
    "SrcGeoLatitude": 51.5,
    "AdditionalFields": {"ray_id": "8f1c"},
}

USER_CREATED: dict[str, Any] = {
    **{name: LOGON[name] for name in ("TimeGenerated", "EventCount", "EventStartTime", "EventEndTime")},
    "EventType": "UserCreated",
    "EventResult": "Success",
    "EventSeverity": "Informational",
    "EventProduct": "Access",
    "EventVendor": "Cloudflare",
    "EventSchema": "UserManagement",
    "EventSchemaVersion": "0.1.2",
    "Dvc": "Access",
    "ActorUsername": "okta-scim",
    "ActorUsernameType": "Simple",
}


def test_conforming_documents_pass() -> None:
    assert violations(LOGON, load(AUTHENTICATION)) == []
    assert violations(USER_CREATED, load(USER_MANAGEMENT)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"TargetUserAlias": "ada"}, "TargetUserAlias: not a column of ASIM Authentication"),
        ({"EventCount": "1"}, "EventCount: '1' is not of type int"),
        ({"EventCount": True}, "EventCount: True is not of type int"),
        ({"EventCount": 2**40}, f"EventCount: {2**40} is not of type int"),
        ({"TimeGenerated": "yesterday"}, "TimeGenerated: 'yesterday' is not of type datetime"),
        ({"SrcGeoLatitude": "51.5"}, "SrcGeoLatitude: '51.5' is not of type real"),
        ({"SrcIpAddr": "2001:db8::zz"}, "SrcIpAddr: '2001:db8::zz' is not an IP address"),
        ({"EventResult": "Done"}, "EventResult: 'Done' is not one of Success, Partial, Failure, NA"),
        ({"TargetUsernameType": "Mail"}, "TargetUsernameType: 'Mail' is not one of UPN, Windows, DN, Simple"),
        ({"EventSchemaVersion": "0.1.3"}, "EventSchemaVersion: '0.1.3' is not one of 0.1.4"),
        ({"EventType": None}, "EventType: mandatory column missing"),
        ({"TargetUsernameType": None}, "TargetUsernameType: required because TargetUsername is set"),
    ],
)
def test_each_kind_of_violation_is_reported(change: dict[str, Any], expected: str) -> None:
    document = {**LOGON, **change}
    assert violations(document, load(AUTHENTICATION)) == [expected]


def test_a_missing_mandatory_column_differs_by_schema() -> None:
    # ActorUsername is optional in Authentication and mandatory in User Management.
    logon = {**LOGON, "ActorUsername": None}
    created = {**USER_CREATED, "ActorUsername": None, "ActorUsernameType": None}
    assert violations(logon, load(AUTHENTICATION)) == []
    assert violations(created, load(USER_MANAGEMENT)) == ["ActorUsername: mandatory column missing"]


@pytest.mark.parametrize("name", [AUTHENTICATION, USER_MANAGEMENT, AUDIT_EVENT])
def test_tables_are_well_formed(name: str) -> None:
    table = load(name)
    columns = columns_by_name(table)
    assert len(columns) == len(table["columns"]), "a column is listed twice"
    assert {column["class"] for column in table["columns"]} <= {
        "Mandatory",
        "Recommended",
        "Optional",
        "Conditional",
        "Alias",
    }
    assert {column["type"] for column in table["columns"]} <= {
        "string",
        "int",
        "long",
        "real",
        "bool",
        "datetime",
        "dynamic",
    }
    assert columns["EventSchemaVersion"]["values"] == [table["EventSchemaVersion"]]
    assert columns["EventSchema"]["values"] == [table["schema"]]
    for column in table["columns"]:
        assert column.get("required_with") in (None, *columns), column
        assert set(column.get("aliases", [])) <= set(columns), column
        assert (column["class"] == "Alias") == ("aliases" in column), column
    # Log Analytics reserves these names; a row that carries one is refused.
    reserved = {"Type", "_ResourceId", "TenantId", "id", "_SubscriptionId", "UniqueId", "Title"}
    assert not reserved & set(columns)


def test_aliases_are_not_stored() -> None:
    stored = {column["name"] for column in stored_columns(load(AUTHENTICATION))}
    assert {"User", "IpAddr", "Dst", "Application", "LogonTarget", "Rule"}.isdisjoint(stored)
    assert {"TargetUsername", "SrcIpAddr", "TargetAppName"} <= stored


def test_the_audit_event_table_asks_for_the_operation_and_its_object() -> None:
    table = load(AUDIT_EVENT)
    document = {
        "TimeGenerated": "2026-12-04T10:00:00Z",
        "EventStartTime": "2026-12-04T10:00:00Z",
        "EventEndTime": "2026-12-04T10:00:00Z",
        "EventCount": 1,
        "EventType": "Set",
        "EventResult": "Success",
        "EventProduct": "Cloudflare Access",
        "EventVendor": "Cloudflare",
        "EventSchema": "AuditEvent",
        "EventSchemaVersion": "0.1",
        "Dvc": "Cloudflare Access",
        "Operation": "Update Access policy",
        "Object": "77b2",
        "ObjectType": "Policy Rule",
    }
    assert violations(document, table) == []
    assert violations({**document, "NewValue": "{}"}, table) == [
        "ValueType: required because NewValue is set"
    ]
    assert violations({key: value for key, value in document.items() if key != "Object"}, table) == [
        "Object: mandatory column missing"
    ]
    assert violations({**document, "EventType": "Update"}, table) == [
        "EventType: 'Update' is not one of Set, Read, Create, Delete, Execute, Install, Clear, Enable, "
        "Disable, Initialize, Start, Stop, Terminate, Other"
    ]
    stored = {column["name"] for column in stored_columns(table)}
    assert {"Value", "User", "Src", "Dst", "IpAddr", "Application", "Rule"}.isdisjoint(stored)
