"""ECS 9.4 mapping: the fields a detection written for ECS looks at."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from forwarder.formats import mapper_for
from forwarder.formats.ecs import to_ecs
from forwarder.formats.ecs_profile import load_profile, violations
from forwarder.records import LogType, make_record
from forwarder.source.paging import record_from_api
from tests.unit.mapping_support import ACCOUNT, DOCUMENTED_ACCESS_REQUEST, OBSERVED, with_fields


def _access(**fields: Any) -> dict[str, Any]:
    data = with_fields(DOCUMENTED_ACCESS_REQUEST, fields)
    return to_ecs(make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED))


def _scim(**fields: Any) -> dict[str, Any]:
    return to_ecs(record_from_api(LogType.SCIM_UPDATES, ACCOUNT, fields, observed=OBSERVED))


def test_the_documented_access_request_maps_field_by_field() -> None:
    document = _access()
    assert document["@timestamp"] == "2014-01-01T05:20:00.123450Z"
    assert document["ecs"] == {"version": "9.4.0"}
    assert document["event"]["kind"] == "event"
    assert document["event"]["category"] == ["authentication"]
    assert document["event"]["type"] == ["start"]
    assert document["event"]["action"] == "login"
    assert document["event"]["outcome"] == "failure"
    assert len(document["event"]["id"]) == 32
    assert document["user"] == {"email": "michelle@example.com", "name": "michelle@example.com"}
    assert document["source"] == {"address": "198.41.129.166", "ip": "198.41.129.166"}
    assert document["url"] == {
        "original": "test.example.com/admin",
        "domain": "test.example.com",
        "path": "/admin",
    }
    assert document["http"] == {"request": {"id": "187d944c61940c77"}}
    assert document["related"] == {
        "ip": ["198.41.129.166"],
        "hosts": ["test.example.com"],
        "user": ["michelle@example.com"],
    }
    assert document["observer"] == {"vendor": "Cloudflare", "product": "Cloudflare Access"}
    assert document["cloud"] == {"provider": "cloudflare", "account": {"id": ACCOUNT}}
    assert document["cloudflare"] == {
        "access": {"app_uid": "df7e2w5f-02b7-4d9d-af26-8d1988fca630", "connection": "saml"}
    }
    assert violations(document) == []


@pytest.mark.parametrize(
    ("action", "event_type"),
    [("login", "start"), ("logout", "end"), ("LOGOUT", "end"), ("sso", "info"), ("<drop>", "info")],
)
def test_event_type_follows_the_action(action: str, event_type: str) -> None:
    assert _access(action=action)["event"]["type"] == [event_type]


@pytest.mark.parametrize(
    ("allowed", "outcome"), [(True, "success"), (False, "failure"), ("<drop>", "unknown")]
)
def test_event_outcome_follows_allowed(allowed: Any, outcome: str) -> None:
    assert _access(allowed=allowed)["event"]["outcome"] == outcome


def test_a_value_ecs_cannot_hold_is_kept_under_cloudflare_not_dropped() -> None:
    document = _access(allowed="yes", ip_address="10.0.0.300", created_at="yesterday", action=7)
    assert document["event"]["outcome"] == "unknown"
    assert document["source"] == {"address": "10.0.0.300"}
    assert "ip" not in document.get("related", {})
    assert document["@timestamp"] == "2026-08-20T12:00:00.000000Z"
    kept = document["cloudflare"]["access"]
    assert kept["allowed"] == "yes"
    assert kept["created_at"] == "yesterday"
    assert kept["action"] == 7
    assert violations(document) == []


def test_ipv6_is_indexed_in_canonical_form_and_kept_as_sent() -> None:
    document = _access(ip_address="2001:0DB8:0000:0000:0000:0000:0000:0001")
    assert document["source"] == {"address": "2001:0DB8:0000:0000:0000:0000:0000:0001", "ip": "2001:db8::1"}
    assert document["related"]["ip"] == ["2001:db8::1"]


def test_unknown_input_fields_are_kept_verbatim() -> None:
    document = _access(region="PT", temporary_access_approvers=["a@example.com"], nothing=None)
    assert document["cloudflare"]["access"]["region"] == "PT"
    assert document["cloudflare"]["access"]["temporary_access_approvers"] == ["a@example.com"]
    assert document["cloudflare"]["access"]["nothing"] is None


@pytest.mark.parametrize(
    ("fields", "country", "kept"),
    [
        ({"country": "pt"}, "PT", {}),
        ({"country_code": "US", "country": "United States"}, "US", {"country": "United States"}),
        ({"country_code": "US", "country": "us"}, "US", {}),
        ({"country_code": "Portugal", "country": "PT"}, "PT", {"country_code": "Portugal"}),
        ({"country_code": "1x"}, None, {"country_code": "1x"}),
    ],
)
def test_the_country_comes_from_country_code_or_country(
    fields: dict[str, Any], country: str | None, kept: dict[str, Any]
) -> None:
    document = _access(**fields)
    assert document["source"].get("geo") == ({"country_iso_code": country} if country else None)
    vendor = document["cloudflare"]["access"]
    assert {key: vendor[key] for key in ("country_code", "country") if key in vendor} == kept


@pytest.mark.parametrize(
    ("created_at", "timestamp"),
    [
        (1714979289, "2024-05-06T07:08:09.000000Z"),
        (1714979289.25, "2024-05-06T07:08:09.250000Z"),
        (1714979289123, "2024-05-06T07:08:09.123000Z"),
    ],
)
def test_a_numeric_created_at_is_epoch_seconds_or_milliseconds(created_at: float, timestamp: str) -> None:
    document = _access(created_at=created_at)
    assert document["@timestamp"] == timestamp
    assert "created_at" not in document["cloudflare"]["access"]


def test_the_url_of_the_application_has_its_port_and_query() -> None:
    document = _access(app_domain="app.example.com:8443/admin?tab=users")
    assert document["url"] == {
        "original": "app.example.com:8443/admin?tab=users",
        "domain": "app.example.com",
        "port": 8443,
        "path": "/admin",
        "query": "tab=users",
    }


def test_known_null_fields_are_treated_as_absent() -> None:
    document = _access(user_email=None, ip_address=None, app_uid=None, connection=None)
    assert "user" not in document
    assert "source" not in document
    assert "cloudflare" not in document


def test_an_empty_record_still_maps_to_a_valid_document() -> None:
    document = to_ecs(make_record(LogType.ACCESS_REQUESTS, "", {}, observed=OBSERVED))
    assert document["@timestamp"] == "2026-08-20T12:00:00.000000Z"
    assert "cloud" not in document
    assert violations(document) == []


USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _body(value: Any) -> str:
    return orjson.dumps(value).decode()


@pytest.mark.parametrize(
    ("resource_type", "method", "body", "event_type", "action"),
    [
        (
            "USER",
            "POST",
            {"schemas": [USER], "userName": "c@example.com"},
            ["user", "creation"],
            "user-created",
        ),
        ("USER", "DELETE", None, ["user", "deletion"], "user-deleted"),
        (
            "USER",
            "PATCH",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
            ["user", "change"],
            "user-disabled",
        ),
        (
            "USER",
            "PATCH",
            {"Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
            ["user", "change"],
            "user-enabled",
        ),
        ("USER", "PUT", {"userName": "c@example.com", "active": True}, ["user", "change"], "user-modified"),
        ("USER", "PUT", {"userName": "c@example.com", "active": False}, ["user", "change"], "user-disabled"),
        ("GROUP", "POST", {"displayName": "Admins"}, ["group", "creation"], "group-created"),
        ("GROUP", "DELETE", None, ["group", "deletion"], "group-deleted"),
        (
            "GROUP",
            "PATCH",
            {"Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]},
            ["group", "change"],
            "group-member-added",
        ),
        (
            "GROUP",
            "PATCH",
            {"Operations": [{"op": "remove", "path": 'members[value eq "u1"]'}]},
            ["group", "change"],
            "group-member-removed",
        ),
        (
            "GROUP",
            "PATCH",
            {"Operations": [{"op": "replace", "path": "displayName", "value": "Ops"}]},
            ["group", "change"],
            "group-modified",
        ),
        ("GROUP", "GET", None, ["group", "info"], "group-get"),
        (None, None, None, ["info"], "scim-update"),
    ],
)
def test_scim_event_type_and_action_follow_resource_method_and_body(
    resource_type: str | None, method: str | None, body: Any, event_type: list[str], action: str
) -> None:
    fields: dict[str, Any] = {"status": "SUCCESS"}
    if resource_type:
        fields["resource_type"] = resource_type
    if method:
        fields["request_method"] = method
    if body is not None:
        fields["request_body"] = _body(body)
    document = _scim(**fields)
    assert document["event"]["category"] == ["iam"]
    assert document["event"]["type"] == event_type
    assert document["event"]["action"] == action
    assert violations(document) == []


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("SUCCESS", "success"),
        ("FAILURE", "failure"),
        ("ERROR", "failure"),
        ("PENDING", "unknown"),
        (None, "unknown"),
    ],
)
def test_scim_outcome_follows_status_and_unknown_values_are_kept(status: str | None, outcome: str) -> None:
    document = _scim(status=status, resource_type="USER")
    assert document["event"]["outcome"] == outcome
    if status == "PENDING":
        assert document["cloudflare"]["scim"]["status"] == "PENDING"


def test_scim_targets_errors_and_idp_ids() -> None:
    document = _scim(
        cf_resource_id="bd97ef8d",
        idp_id="df7e2w5f",
        idp_resource_id="00u1",
        resource_type="USER",
        resource_user_email="john.smith@example.com",
        request_method="POST",
        request_body=_body({"userName": "jsmith", "displayName": "John Smith", "password": "s3cret"}),
        status="FAILURE",
        error_description="Invalid JSON body",
    )
    assert document["user"] == {
        "target": {
            "email": "john.smith@example.com",
            "id": "bd97ef8d",
            "name": "jsmith",
            "full_name": "John Smith",
        }
    }
    assert document["error"] == {"message": "Invalid JSON body"}
    assert document["related"] == {"user": ["john.smith@example.com", "jsmith"]}
    assert document["cloudflare"]["scim"] == {"idp_id": "df7e2w5f", "idp_resource_id": "00u1"}
    assert document["http"]["request"]["method"] == "POST"
    assert "s3cret" not in document["http"]["request"]["body"]["content"]


def test_mapper_for_returns_this_mapping() -> None:
    assert mapper_for("ecs") is to_ecs


# The profile checker itself must be able to fail, or the property tests prove nothing.
@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"user": {"emial": "x"}}, "user.emial: not an ECS 9.4.0 field"),
        ({"source": {"ip": "not-an-ip"}}, "source.ip: is not a valid ip"),
        ({"event": {"category": "iam"}}, "event.category: ECS expects an array"),
        ({"user": {"email": ["a", "b"]}}, "user.email: ECS expects a single value"),
        ({"event": {"outcome": "denied"}}, "event.outcome: 'denied' is not an allowed value"),
        ({"http": {"request": {"body": {"bytes": "12"}}}}, "http.request.body.bytes: is not a valid long"),
        ({"@timestamp": "yesterday"}, "@timestamp: is not a valid date"),
        (
            {"event": {"category": ["authentication"], "type": ["creation"]}},
            "event.type 'creation' is not allowed with event.category 'authentication'",
        ),
    ],
)
def test_the_profile_checker_catches_what_ecs_does_not_allow(document: dict[str, Any], problem: str) -> None:
    assert any(found.startswith(problem) for found in violations(document)), violations(document)


def test_the_profile_is_ecs_9_4_with_its_category_type_pairs() -> None:
    profile = load_profile()
    assert profile.version == "9.4.0"
    assert profile.expected_event_types["authentication"] == {"start", "end", "info"}
    assert profile.expected_event_types["iam"] == {
        "admin",
        "change",
        "creation",
        "deletion",
        "group",
        "info",
        "user",
    }
    assert profile.fields["user.target.email"] == "keyword"
    assert "related.ip" in profile.array_fields
