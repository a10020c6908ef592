"""The ASIM rules a Sentinel user relies on, case by case: times, identities no ASIM type fits, results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from forwarder.formats.asim import to_asim
from forwarder.records import LogType, make_record
from forwarder.source.paging import record_from_api
from forwarder.source.scim_bodies import prepare_scim_record
from tests.unit.mapping_support import ACCOUNT, DOCUMENTED_ACCESS_REQUEST, OBSERVED, with_fields

CLOUDFLARE_USER = "5f1c0a7e-0000-4000-8000-000000000abc"


def access(**fields: Any) -> dict[str, Any]:
    return to_asim(
        make_record(
            LogType.ACCESS_REQUESTS, ACCOUNT, with_fields(DOCUMENTED_ACCESS_REQUEST, fields), OBSERVED
        )
    )


def scim(fields: dict[str, Any]) -> dict[str, Any]:
    # Prepared (body parsed and redacted) as the source prepares every SCIM record.
    return to_asim(record_from_api(LogType.SCIM_UPDATES, ACCOUNT, fields, OBSERVED, prepare_scim_record))


def test_an_old_event_keeps_its_own_time_in_start_and_end() -> None:
    # 2014: Log Analytics will replace TimeGenerated with the ingestion time; the event's time survives.
    row = access()
    assert row["EventStartTime"] == row["EventEndTime"] == "2014-01-01T05:20:00.123450Z"
    assert row["TimeGenerated"] == row["EventStartTime"]


def test_a_record_without_a_time_gets_the_time_it_was_read_and_keeps_what_it_had() -> None:
    row = access(created_at="yesterday")
    assert row["EventStartTime"] == OBSERVED.isoformat().replace("+00:00", ".000000Z")
    assert row["AdditionalFields"]["created_at"] == "yesterday"


def test_a_cloudflare_user_uuid_is_an_additional_field_not_a_mistyped_user_id() -> None:
    row = access(user_id=CLOUDFLARE_USER)
    assert "TargetUserId" not in row
    assert "TargetUserIdType" not in row
    assert row["AdditionalFields"]["user_id"] == CLOUDFLARE_USER
    assert (row["TargetUsername"], row["TargetUsernameType"]) == ("michelle@example.com", "UPN")


def test_a_denied_logon_and_an_allowed_logout() -> None:
    denied = access(allowed=False, action="login")
    assert (denied["EventType"], denied["EventResult"], denied["DvcAction"]) == ("Logon", "Failure", "Deny")
    assert denied["EventResultDetails"] == "Logon violates policy"
    assert denied["EventSeverity"] == "Low"
    allowed = access(allowed=True, action="logout")
    assert (allowed["EventType"], allowed["EventResult"], allowed["DvcAction"]) == (
        "Logoff",
        "Success",
        "Allow",
    )
    assert "EventResultDetails" not in allowed
    unknown = access(allowed="<drop>")
    assert unknown["EventResult"] == "NA"


def test_a_scim_group_membership_change_and_a_failed_user_update() -> None:
    added = scim(
        {
            "logged_at": "2026-12-01T10:00:00Z",
            "resource_type": "GROUP",
            "request_method": "PATCH",
            "resource_group_name": "Admins",
            "resource_user_email": "carol@example.com",
            "cf_resource_id": CLOUDFLARE_USER,
            "request_body": '{"Operations":[{"op":"add","path":"members","value":[{"value":"x"}]}]}',
            "status": "SUCCESS",
        }
    )
    assert (added["EventType"], added["GroupName"], added["TargetUsername"]) == (
        "UserAddedToGroup",
        "Admins",
        "carol@example.com",
    )
    assert added["AdditionalFields"]["cf_resource_id"] == CLOUDFLARE_USER
    failed = scim(
        {
            "logged_at": "2026-12-01T10:00:00Z",
            "resource_type": "USER",
            "request_method": "PUT",
            "status": "FAILURE",
            "error_description": "Invalid JSON body",
        }
    )
    assert (failed["EventType"], failed["EventResult"], failed["EventResultDetails"]) == (
        "UserModified",
        "Failure",
        "Other",
    )
    assert failed["EventOriginalResultDetails"] == "Invalid JSON body"
    assert failed["ActorUsername"] == "scim"


def test_the_actor_is_the_identity_providers_provisioning_client() -> None:
    row = scim(
        {
            "logged_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
            "idp_id": "idp-1",
            "request_method": "GET",
        }
    )
    assert (row["ActorUsername"], row["ActorUserType"], row["EventType"]) == (
        "scim:idp-1",
        "Application",
        "UserRead",
    )
