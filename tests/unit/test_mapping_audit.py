"""Account audit logs in every format: the choices docs/mapping.md describes, one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forwarder.formats import encoder_for
from forwarder.formats.ecs import to_ecs
from forwarder.formats.ecs_profile import violations
from forwarder.formats.ocsf import to_ocsf
from forwarder.records import LogType, Record, make_record
from tests.support.syslog_parsers import parse_cef, parse_leef
from tests.unit.mapping_support import OCSF_VALIDATORS

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
OBSERVED = datetime(2026, 8, 20, 12, tzinfo=UTC)


def audit(**fields: Any) -> Record:
    data: dict[str, Any] = {
        "id": "a1",
        "action": {
            "description": "Add Member",
            "result": "success",
            "time": "2026-08-20T09:30:00Z",
            "type": "create",
        },
        "actor": {"email": "alice@example.com", "id": "u1", "ip_address": "198.51.100.7", "type": "user"},
        "resource": {"id": "r1", "product": "members", "type": "member"},
        "raw": {
            "cf_ray_id": "8e9b1c60ef9e1c9a",
            "method": "POST",
            "status_code": 200,
            "uri": "/accounts/x/members",
        },
    } | fields
    return make_record(LogType.AUDIT_LOGS, ACCOUNT, data, OBSERVED)


def valid_ocsf(record: Record) -> dict[str, Any]:
    event = to_ocsf(record)
    assert [error.message for error in OCSF_VALIDATORS[event["class_uid"]].iter_errors(event)] == []
    return event


def valid_ecs(record: Record) -> dict[str, Any]:
    document = to_ecs(record)
    assert violations(document) == []
    return document


@pytest.mark.parametrize(
    ("resource", "category"),
    [
        ({"product": "members", "type": "member"}, "iam"),
        ({"product": "access", "type": "application"}, "iam"),
        ({"product": "Stream", "type": "policy"}, "iam"),
        ({"product": "dns", "type": "dns_record"}, "configuration"),
        ({}, "configuration"),
    ],
)
def test_the_category_follows_the_resource(resource: dict[str, str], category: str) -> None:
    assert valid_ecs(audit(resource=resource))["event"]["category"] == [category]


@pytest.mark.parametrize(
    ("action", "iam", "configuration", "activity"),
    [
        ("create", "creation", "creation", (1, "Create")),
        ("view", "info", "access", (2, "Read")),
        ("update", "change", "change", (3, "Update")),
        ("delete", "deletion", "deletion", (4, "Delete")),
        ("rotate", "info", "info", (99, "rotate")),
    ],
)
def test_the_type_and_activity_follow_the_action(
    action: str, iam: str, configuration: str, activity: tuple[int, str]
) -> None:
    moment = {"time": "2026-08-20T09:30:00Z", "type": action}
    assert valid_ecs(audit(action=moment))["event"]["type"] == [iam]
    dns = audit(action=moment, resource={"product": "dns"})
    assert valid_ecs(dns)["event"]["type"] == [configuration]
    event = valid_ocsf(dns)
    assert (event["activity_id"], event["activity_name"]) == activity


def test_the_actor_is_the_user_and_the_source() -> None:
    document = valid_ecs(audit())
    assert document["user"] == {"email": "alice@example.com", "name": "alice@example.com", "id": "u1"}
    assert document["source"] == {"address": "198.51.100.7", "ip": "198.51.100.7"}
    assert document["entity"] == {"target": {"id": "r1", "sub_type": "member"}}
    assert document["cloudflare"]["audit"]["actor"] == {"type": "user"}
    event = valid_ocsf(audit())
    assert event["actor"]["user"] == {
        "name": "alice@example.com",
        "email_addr": "alice@example.com",
        "uid": "u1",
    }
    assert event["resources"] == [{"uid": "r1", "type": "member"}]


def test_cloudflare_itself_has_no_address_and_still_validates() -> None:
    record = audit(actor={"type": "system"})
    assert "source" not in valid_ecs(record)
    event = valid_ocsf(record)
    assert event["src_endpoint"] == {"uid": ""}
    assert event["actor"]["user"] == {"uid": ""}


@pytest.mark.parametrize(
    ("result", "outcome"), [("success", "success"), ("failure", "failure"), ("partial", "unknown")]
)
def test_the_outcome_is_the_result_and_an_unknown_one_is_kept(result: str, outcome: str) -> None:
    record = audit(action={"result": result, "time": "2026-08-20T09:30:00Z"})
    document = valid_ecs(record)
    assert document["event"]["outcome"] == outcome
    kept = document.get("cloudflare", {}).get("audit", {}).get("action", {}).get("result")
    assert kept == (result if outcome == "unknown" else None)
    cef = parse_cef(encoder_for("cef")(record).decode())
    assert cef.header[3] == f"audit_log.{outcome}"
    leef = parse_leef(encoder_for("leef")(record).decode())
    assert leef.header[3] == f"audit_log.{outcome}"


def test_resource_bodies_stay_as_json_text() -> None:
    record = audit(
        resource={"id": "r1", "request": {"rules": [{"a": 1}]}, "response": [], "scope": {"id": "x"}}
    )
    kept = valid_ecs(record)["cloudflare"]["audit"]["resource"]
    assert kept == {"request": '{"rules":[{"a":1}]}', "response": "[]", "scope": '{"id":"x"}'}
    assert valid_ocsf(record)["unmapped"]["resource"] == kept


def test_cef_and_leef_carry_the_actor_and_the_resource() -> None:
    cef = parse_cef(encoder_for("cef")(audit()).decode())
    assert cef.header[4] == "Account change succeeded"
    assert {key: cef.extension[key] for key in ("suser", "suid", "src", "act", "cs1", "cs2", "cs5")} == {
        "suser": "alice@example.com",
        "suid": "u1",
        "src": "198.51.100.7",
        "act": "create",
        "cs1": "member",
        "cs2": "r1",
        "cs5": "members",
    }
    leef = parse_leef(encoder_for("leef")(audit()).decode())
    assert leef.attributes["usrName"] == "alice@example.com"
    assert leef.attributes["resourceType"] == "member"
