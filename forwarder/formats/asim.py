"""ASIM rows (Microsoft Sentinel's normalised schemas) for Access, SCIM and account audit log records.

An access request is a row of the ASIM **Authentication** schema 0.1.4, a SCIM update one of the **User
Management** schema 0.1.2, an account audit log entry one of the **Audit Event** schema 0.1
(``forwarder.formats.asim_audit``), with the columns of the tables in ``forwarder/schemas/asim_*.json``
(written from Microsoft's schema reference) and of the custom tables ``deploy/sentinel/azuredeploy.json``
creates.
``docs/sinks/sentinel.md`` has the column-by-column table. Rules that hold throughout:

* Only stored columns: the aliases (``User``, ``IpAddr``, ``Application``, ...) are added by ASIM's parsers
  at query time, and a data collection rule drops a column its stream does not declare.
* ``TimeGenerated``, ``EventStartTime`` and ``EventEndTime`` are the event's own time. The Logs Ingestion
  API replaces a ``TimeGenerated`` more than two days old with the time of ingestion, so a backfilled event
  keeps its own time in ``EventStartTime``/``EventEndTime``.
* A value no ASIM column can hold with its type (Cloudflare's user and resource UUIDs: ``TargetUserIdType``
  has no value for them), a known field whose value is of the wrong type, and every field this forwarder
  does not know yet go to ``AdditionalFields`` under their API names, never mistyped and never dropped.
* Null known fields are absent, which is what the API means by them.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.asim_audit import audit_log_to_asim
from forwarder.formats.asim_row import Row, common_columns, finish, username_type
from forwarder.formats.known_fields import ACCESS_FIELDS, SCIM_FIELDS, access_country
from forwarder.formats.outcome import Outcome, access_outcome, is_scim_status, scim_outcome
from forwarder.formats.scim_changes import Activity, ScimChange, classify, is_resource_type
from forwarder.formats.values import ip_address, split_app_domain, text, unknown_fields
from forwarder.records import INFO_KEY, LogType, Record

AUTHENTICATION = "Authentication"
AUTHENTICATION_VERSION = "0.1.4"
USER_MANAGEMENT = "UserManagement"
USER_MANAGEMENT_VERSION = "0.1.2"

# Every Access event is a logon attempt but a logout (Access logs `login`, `logout`, `ssh_login`, ...).
_LOGON_TYPES = {"logout": "Logoff"}
_USER_EVENTS = {
    Activity.CREATE: "UserCreated",
    Activity.DELETE: "UserDeleted",
    Activity.ENABLE: "UserEnabled",
    Activity.DISABLE: "UserDisabled",
    Activity.PASSWORD_CHANGE: "PasswordChanged",
    Activity.ADD_MEMBERS: "UserAddedToGroup",
    Activity.REMOVE_MEMBERS: "UserRemovedFromGroup",
}
_GROUP_EVENTS = {
    Activity.CREATE: "GroupCreated",
    Activity.DELETE: "GroupDeleted",
    Activity.ADD_MEMBERS: "UserAddedToGroup",
    Activity.REMOVE_MEMBERS: "UserRemovedFromGroup",
}


def to_asim(record: Record) -> Row:
    """The ASIM row for one record. Pure and total: any record the API can return maps."""
    if record.log_type is LogType.ACCESS_REQUESTS:
        return _authentication(record)
    if record.log_type is LogType.SCIM_UPDATES:
        return _user_management(record)
    return audit_log_to_asim(record)


# --- Authentication ------------------------------------------------------------------------------


def _authentication(record: Record) -> Row:
    data = record.data
    additional = unknown_fields(data, ACCESS_FIELDS)
    if record.timestamp is None and data.get("created_at") is not None:
        additional["created_at"] = data["created_at"]
    action = data.get("action")
    label = text(action)
    event_type = _LOGON_TYPES.get(label.lower(), "Logon") if label else "Logon"
    outcome = access_outcome(data.get("allowed"))
    row = common_columns(record, AUTHENTICATION, AUTHENTICATION_VERSION, event_type, outcome)
    if label is not None:
        row["EventOriginalType"] = label
    elif action is not None:
        additional["action"] = action
    _access_decision(row, data, additional, event_type)
    _access_user(row, data, additional)
    _access_source(row, data, additional)
    _access_application(row, data, additional)
    ray_id = data.get("ray_id")
    if text(ray_id):
        # The Ray ID names the one HTTP request to Cloudflare this event is about.
        row["EventOriginalUid"] = ray_id
    elif ray_id is not None:
        additional["ray_id"] = ray_id
    connection = data.get("connection")
    if connection is not None:
        # The kind of identity provider (saml, okta, onetimepin): neither a protocol nor a LogonMethod.
        additional["connection"] = connection
    return finish(row, additional)


def _access_decision(row: Row, data: Any, additional: dict[str, Any], event_type: str) -> None:
    allowed = data.get("allowed")
    if isinstance(allowed, bool):
        row["DvcAction"] = "Allow" if allowed else "Deny"
        if not allowed and event_type == "Logon":
            # Access refuses a logon only when its policies do.
            row["EventResultDetails"] = "Logon violates policy"
    elif allowed is not None:
        additional["allowed"] = allowed


def _access_user(row: Row, data: Any, additional: dict[str, Any]) -> None:
    email = data.get("user_email")
    if text(email):
        row["TargetUsername"] = email
        row["TargetUsernameType"] = username_type(email)
    elif email is not None:
        additional["user_email"] = email
    user_id = data.get("user_id")
    if user_id is not None:
        # A Cloudflare user UUID: no TargetUserIdType names it.
        additional["user_id"] = user_id


def _access_source(row: Row, data: Any, additional: dict[str, Any]) -> None:
    raw_ip = data.get("ip_address")
    ip = ip_address(raw_ip)
    if ip is not None:
        row["SrcIpAddr"] = ip
    elif raw_ip is not None:
        additional["ip_address"] = raw_ip
    country = access_country(data, additional)
    if country is not None:
        row["SrcGeoCountry"] = country


def _access_application(row: Row, data: Any, additional: dict[str, Any]) -> None:
    app_uid = data.get("app_uid")
    if text(app_uid):
        row["TargetAppId"] = app_uid
    elif app_uid is not None:
        additional["app_uid"] = app_uid
    app_domain = data.get("app_domain")
    if not text(app_domain):
        if app_domain is not None:
            additional["app_domain"] = app_domain
        return
    # Access names an application by its domain in these logs: that is its name and its URL.
    row["TargetAppName"] = app_domain
    row["TargetAppType"] = "URL"
    row["TargetUrl"] = app_domain
    port = split_app_domain(app_domain).port
    if port is not None:
        row["TargetPortNumber"] = port


# --- User Management -----------------------------------------------------------------------------


def _user_management(record: Record) -> Row:
    # The source prepared the body (parsed, redacted, bounded) when it made the record.
    data = record.data
    change = classify(data)
    additional = unknown_fields(data, SCIM_FIELDS)
    if record.timestamp is None and data.get("logged_at") is not None:
        additional["logged_at"] = data["logged_at"]
    status = data.get("status")
    outcome = scim_outcome(status)
    row = common_columns(
        record, USER_MANAGEMENT, USER_MANAGEMENT_VERSION, _scim_event_type(change, data), outcome
    )
    if status is not None and not is_scim_status(status):
        additional["status"] = status
    if outcome is Outcome.FAILURE:
        row["EventResultDetails"] = "Other"
    _scim_request(row, data, additional)
    _scim_actor(row, data, additional)
    _scim_target(row, data, change, additional)
    for key in ("cf_resource_id", "idp_resource_id"):
        # Cloudflare's and the IdP's ids of the user or group: no *IdType names either.
        if data.get(key) is not None:
            additional[key] = data[key]
    return finish(row, additional)


def _scim_event_type(change: ScimChange, data: Any) -> str:
    reading = (text(data.get("request_method")) or "").upper() == "GET"
    if change.resource == "group":
        return "GroupRead" if reading else _GROUP_EVENTS.get(change.activity, "GroupModified")
    # SCIM provisions users far more than anything else: a resource the record does not name is one.
    return "UserRead" if reading else _USER_EVENTS.get(change.activity, "UserModified")


def _scim_request(row: Row, data: Any, additional: dict[str, Any]) -> None:
    method = data.get("request_method")
    if text(method):
        row["EventOriginalType"] = method
    elif method is not None:
        additional["request_method"] = method
    resource_type = data.get("resource_type")
    if resource_type is not None and not is_resource_type(resource_type):
        additional["resource_type"] = resource_type
    error = data.get("error_description")
    if text(error):
        row["EventOriginalResultDetails"] = error
    elif error is not None:
        additional["error_description"] = error
    body = data.get("request_body")
    if body is not None:
        # The redacted body, as text: SCIM's polymorphic values fit no column.
        additional["request_body"] = body
        info = data.get(INFO_KEY)
        if isinstance(info, dict):
            additional[INFO_KEY] = info


def _scim_actor(row: Row, data: Any, additional: dict[str, Any]) -> None:
    # The schema makes the actor mandatory; a SCIM update is made by the identity provider's
    # provisioning client, which the record names only by Cloudflare's id of that provider.
    idp_id = data.get("idp_id")
    row["ActorUsername"] = f"scim:{idp_id}" if text(idp_id) else "scim"
    row["ActorUsernameType"] = "Simple"
    row["ActorUserType"] = "Application"
    if idp_id is not None:
        additional["idp_id"] = idp_id


def _scim_target(row: Row, data: Any, change: ScimChange, additional: dict[str, Any]) -> None:
    email = data.get("resource_user_email")
    if email is not None and not text(email):
        additional["resource_user_email"] = email
    group_name = data.get("resource_group_name")
    if group_name is not None and not text(group_name):
        additional["resource_group_name"] = group_name
    name = change.user_name if change.resource != "group" else None
    name = name or text(email)
    if change.resource == "group" and name is None and len(change.members) == 1:
        name = change.members[0].display
    if name:
        row["TargetUsername"] = name
        row["TargetUsernameType"] = username_type(name)
    group = text(group_name) or (change.display_name if change.resource == "group" else None)
    if group:
        row["GroupName"] = group
        row["GroupNameType"] = "Simple"
