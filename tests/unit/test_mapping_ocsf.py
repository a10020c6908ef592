"""OCSF 1.8.0 mapping: classes, activities, statuses, and the class schemas shipped in the package."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from forwarder.formats import mapper_for
from forwarder.formats.ocsf import to_ocsf
from forwarder.records import LogType, make_record
from forwarder.source.paging import record_from_api
from tests.unit.mapping_support import ACCOUNT, OBSERVED, OCSF_VALIDATORS, with_fields
from tests.unit.mapping_support import DOCUMENTED_ACCESS_REQUEST as DOCUMENTED

GOLDEN_OCSF = Path(__file__).resolve().parent.parent / "golden" / "ocsf"


def _errors(event: dict[str, Any]) -> list[str]:
    return [error.message for error in OCSF_VALIDATORS[event["class_uid"]].iter_errors(event)]


def _access(**fields: Any) -> dict[str, Any]:
    data = with_fields(DOCUMENTED, fields)
    event = to_ocsf(make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED))
    assert _errors(event) == []
    return event


def _scim(**fields: Any) -> dict[str, Any]:
    event = to_ocsf(record_from_api(LogType.SCIM_UPDATES, ACCOUNT, fields, observed=OBSERVED))
    assert _errors(event) == []
    return event


def test_the_documented_access_request_is_an_authentication_event() -> None:
    event = _access()
    assert (event["class_uid"], event["category_uid"], event["activity_id"], event["type_uid"]) == (
        3002,
        3,
        1,
        300201,
    )
    assert event["time"] == 1388553600123
    assert event["status_id"] == 2
    assert event["user"] == {"name": "michelle@example.com", "email_addr": "michelle@example.com"}
    assert event["src_endpoint"] == {"ip": "198.41.129.166"}
    assert event["service"] == {
        "name": "test.example.com/admin",
        "uid": "df7e2w5f-02b7-4d9d-af26-8d1988fca630",
    }
    assert (event["auth_protocol_id"], event["auth_protocol"]) == (5, "SAML")
    assert event["metadata"]["version"] == "1.8.0"
    assert event["metadata"]["tenant_uid"] == ACCOUNT
    assert event["metadata"]["product"]["vendor_name"] == "Cloudflare"
    assert event["metadata"]["uid"] == make_record(LogType.ACCESS_REQUESTS, ACCOUNT, DOCUMENTED).event_id
    assert [(item["type_id"], item["value"]) for item in event["observables"]] == [
        (2, "198.41.129.166"),
        (5, "michelle@example.com"),
    ]


@pytest.mark.parametrize(
    ("action", "activity_id", "activity_name"),
    [("login", 1, "Logon"), ("logout", 2, "Logoff"), ("sso", 99, "sso"), ("<drop>", 0, "Unknown")],
)
def test_the_activity_follows_the_action(action: str, activity_id: int, activity_name: str) -> None:
    event = _access(action=action)
    assert (event["activity_id"], event["activity_name"]) == (activity_id, activity_name)
    assert event["type_uid"] == 300200 + activity_id


@pytest.mark.parametrize(
    ("allowed", "status_id", "status"), [(True, 1, "Success"), (False, 2, "Failure"), (None, 0, "Unknown")]
)
def test_the_status_follows_allowed(allowed: bool | None, status_id: int, status: str) -> None:
    assert (_access(allowed=allowed)["status_id"], _access(allowed=allowed)["status"]) == (status_id, status)


@pytest.mark.parametrize(
    ("connection", "protocol_id", "protocol"),
    [("saml", 5, "SAML"), ("oidc", 4, "OpenID"), ("azureAD", 4, "OpenID"), ("github", 6, "OAUTH 2.0"),
     ("onetimepin", 99, "onetimepin")],
)  # fmt: skip
def test_the_auth_protocol_follows_the_connection(connection: str, protocol_id: int, protocol: str) -> None:
    event = _access(connection=connection)
    assert (event["auth_protocol_id"], event["auth_protocol"]) == (protocol_id, protocol)
    if protocol_id != 99:
        assert event["unmapped"]["connection"] == connection


def test_odd_emails_stay_in_the_name_and_a_user_without_anything_still_validates() -> None:
    assert _access(user_email="josé@exämple.com")["user"] == {"name": "josé@exämple.com"}
    assert _access(user_email="<drop>")["user"] == {"uid": ""}


def test_without_an_application_the_service_is_access_itself() -> None:
    assert _access(app_domain="<drop>", app_uid="<drop>")["service"] == {"name": "Cloudflare Access"}


def test_values_ocsf_cannot_hold_and_unknown_fields_go_to_unmapped() -> None:
    event = _access(ip_address="fe80::1%eth0", allowed="true", country="PT")
    assert "src_endpoint" not in event
    assert event["unmapped"]["ip_address"] == "fe80::1%eth0"
    assert event["unmapped"]["allowed"] == "true"
    assert event["unmapped"]["country"] == "PT"


USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _patch(*operations: dict[str, Any]) -> str:
    return orjson.dumps({"Operations": list(operations)}).decode()


MEMBER = [{"value": "u1"}]


@pytest.mark.parametrize(
    ("fields", "class_uid", "activity_id"),
    [
        ({"resource_type": "USER", "request_method": "POST"}, 3001, 1),
        ({"resource_type": "USER", "request_method": "DELETE"}, 3001, 6),
        (
            {"resource_type": "USER", "request_method": "PATCH",
             "request_body": _patch({"op": "replace", "path": "active", "value": False})},
            3001, 5,
        ),
        (
            {"resource_type": "USER", "request_method": "PATCH",
             "request_body": _patch({"op": "replace", "value": {"active": True}})},
            3001, 2,
        ),
        (
            {"resource_type": "USER", "request_method": "PATCH",
             "request_body": _patch({"op": "replace", "path": "password", "value": "x"})},
            3001, 3,
        ),
        ({"resource_type": "USER", "request_method": "PUT", "request_body": '{"active": true}'}, 3001, 99),
        ({"resource_type": "USER"}, 3001, 0),
        ({"request_method": "POST", "request_body": f'{{"schemas": ["{USER}"]}}'}, 3001, 1),
        ({"resource_type": "GROUP", "request_method": "POST"}, 3006, 6),
        ({"resource_type": "GROUP", "request_method": "DELETE"}, 3006, 5),
        (
            {"resource_type": "GROUP", "request_method": "PATCH",
             "request_body": _patch({"op": "Add", "path": "members", "value": MEMBER})},
            3006, 3,
        ),
        (
            {"resource_type": "GROUP", "request_method": "PATCH",
             "request_body": _patch({"op": "Remove", "path": "members", "value": MEMBER})},
            3006, 4,
        ),
        (
            {"resource_type": "GROUP", "request_method": "PATCH",
             "request_body": _patch({"op": "remove", "path": "members"})},
            3006, 4,
        ),
        (
            {"resource_type": "GROUP", "request_method": "PATCH",
             "request_body": _patch({"op": "add", "path": "members", "value": MEMBER},
                                    {"op": "remove", "path": "members"})},
            3006, 99,
        ),
        ({"resource_type": "GROUP", "request_method": "PUT", "request_body": '{"members": []}'}, 3006, 99),
        ({"resource_group_name": "Admins", "request_method": "OPTIONS"}, 3006, 99),
    ],
)  # fmt: skip
def test_scim_class_and_activity_follow_resource_method_and_body(
    fields: dict[str, Any], class_uid: int, activity_id: int
) -> None:
    event = _scim(status="SUCCESS", **fields)
    assert (event["class_uid"], event["activity_id"]) == (class_uid, activity_id)
    assert event["type_uid"] == class_uid * 100 + activity_id


@pytest.mark.parametrize(
    ("status", "status_id", "label"),
    [
        ("SUCCESS", 1, "Success"),
        ("FAILURE", 2, "Failure"),
        ("ERROR", 2, "Failure"),
        ("PENDING", 99, "PENDING"),
        (None, 0, "Unknown"),
    ],
)  # fmt: skip
def test_scim_status_unknown_values_map_to_other_never_to_an_exception(
    status: str | None, status_id: int, label: str
) -> None:
    event = _scim(status=status, resource_type="USER")
    assert (event["status_id"], event["status"]) == (status_id, label)


def test_a_group_membership_change_names_the_group_the_member_and_the_idp() -> None:
    event = _scim(
        resource_type="GROUP",
        request_method="PATCH",
        cf_resource_id="g-1",
        idp_resource_id="00g1",
        resource_group_name="Admins",
        idp_id="idp-1",
        request_body=_patch({"op": "add", "path": "members", "value": [{"value": "u-1", "display": "c"}]}),
        status="SUCCESS",
    )
    assert event["group"] == {"name": "Admins", "uid": "g-1", "uid_alt": "00g1"}
    assert event["user"] == {"name": "c", "uid": "u-1"}
    assert event["actor"] == {"app_uid": "idp-1", "idp": {"uid": "idp-1", "protocol_name": "SCIM"}}
    assert event["http_request"]["http_method"] == "PATCH"
    assert event["unmapped"]["request_body_parsed"]["Operations"][0]["value"][0]["value"] == "u-1"


def test_the_scim_body_is_carried_redacted_in_unmapped() -> None:
    event = _scim(
        resource_type="USER", request_method="POST", request_body='{"userName": "u", "password": "p4ss"}'
    )
    assert b"p4ss" not in orjson.dumps(event)
    assert event["unmapped"]["request_body_parsed"] == {"userName": "u", "password": "[REDACTED]"}
    assert event["user"] == {"name": "u"}


def test_a_truncated_body_marks_the_event_truncated() -> None:
    event = _scim(resource_type="USER", request_method="PUT", request_body='{"a": "' + "x" * 70_000 + '"}')
    assert event["metadata"]["is_truncated"] is True
    assert event["http_request"]["body_length"] == len('{"a": "') + 70_000 + len('"}')


def test_mapper_for_returns_this_mapping() -> None:
    assert mapper_for("ocsf") is to_ocsf


def test_every_golden_ocsf_event_validates_against_its_class_schema() -> None:
    events = [orjson.loads(line) for path in GOLDEN_OCSF.iterdir() for line in path.read_bytes().splitlines()]
    assert {event["class_uid"] for event in events} == {3001, 3002, 3006, 6003}
    for event in events:
        assert _errors(event) == [], event


# The schemas must be able to reject, or validating against them proves nothing.
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda event: event["user"].pop("name"), "is not valid under any of the given schemas"),
        (lambda event: event.pop("service"), "is not valid under any of the given schemas"),
        (lambda event: event.update(action_id=1), "Additional properties are not allowed"),
        (lambda event: event.update(time="2014-01-01T05:20:00Z"), "is not of type 'integer'"),
        (lambda event: event.update(type_uid=300209), "is not one of"),
        (lambda event: event["metadata"].pop("version"), "'version' is a required property"),
        (lambda event: event["user"].update(email_addr="josé@exämple.com"), "does not match"),
    ],
)
def test_the_authentication_schema_rejects_plausible_mistakes(change: Any, expected: str) -> None:
    event = copy.deepcopy(_access())
    event["user"] = {"name": "michelle@example.com"}
    change(event)
    assert any(expected in message for message in _errors(event)), _errors(event)


def test_the_url_of_the_application_has_its_port_and_query_string() -> None:
    event = _access(app_domain="app.example.com:8443/admin?tab=users", ray_id="8a1b")
    assert event["http_request"] == {
        "uid": "8a1b",
        "url": {
            "url_string": "app.example.com:8443/admin?tab=users",
            "hostname": "app.example.com",
            "port": 8443,
            "path": "/admin",
            "query_string": "tab=users",
        },
    }


@pytest.mark.parametrize(
    ("fields", "location", "unmapped"),
    [
        ({"country": "de"}, {"country": "DE"}, {}),
        ({"country_code": "US", "country": "United States"}, {"country": "US"}, {"country": "United States"}),
        # A country alone makes no endpoint: both fields stay as they came.
        ({"ip_address": "<drop>", "country": "DE"}, None, {"country": "DE"}),
    ],
)
def test_the_country_comes_from_country_code_or_country(
    fields: dict[str, Any], location: dict[str, str] | None, unmapped: dict[str, Any]
) -> None:
    event = _access(**{"country_code": "<drop>", **fields})
    assert event.get("src_endpoint", {}).get("location") == location
    kept = event.get("unmapped", {})
    assert {key: kept[key] for key in ("country_code", "country") if key in kept} == unmapped


def test_a_numeric_created_at_is_the_event_time() -> None:
    assert _access(created_at=1714979289123)["time"] == 1714979289123
    assert _access(created_at=1714979289)["time"] == 1714979289000
