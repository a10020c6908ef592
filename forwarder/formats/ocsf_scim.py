"""OCSF 1.8.0 events of SCIM updates: Account Change (3001) for a user, Group Management (3006)
for a group. See :mod:`forwarder.formats.ocsf` for the rules every class follows.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.known_fields import SCIM_FIELDS
from forwarder.formats.ocsf_event import (
    ACCOUNT_CHANGE,
    GROUP_MANAGEMENT,
    OTHER,
    STATUS_IDS,
    UNKNOWN,
    add_observables,
    event_skeleton,
    ocsf_user,
    set_status,
)
from forwarder.formats.outcome import scim_outcome
from forwarder.formats.scim_changes import Activity, ScimChange, classify, is_resource_type
from forwarder.formats.values import text, unknown_fields
from forwarder.records import INFO_KEY, PARSED_KEY, Record

_ACCOUNT_ACTIVITIES = {
    Activity.CREATE: (1, "Create"),
    Activity.ENABLE: (2, "Enable"),
    Activity.PASSWORD_CHANGE: (3, "Password Change"),
    Activity.DISABLE: (5, "Disable"),
    Activity.DELETE: (6, "Delete"),
    Activity.UNKNOWN: (0, "Unknown"),
}
_GROUP_ACTIVITIES = {
    Activity.ADD_MEMBERS: (3, "Add User"),
    Activity.REMOVE_MEMBERS: (4, "Remove User"),
    Activity.DELETE: (5, "Delete"),
    Activity.CREATE: (6, "Create"),
    Activity.UNKNOWN: (0, "Unknown"),
}
# http_request.http_method is an enum in OCSF 1.8.0.
_HTTP_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH"})


def scim_update(record: Record) -> dict[str, Any]:
    """The OCSF event of a SCIM update: Group Management for a group, Account Change otherwise."""
    # The source prepared the body (parsed, redacted, bounded) when it made the record.
    data = record.data
    change = classify(data)
    unmapped = unknown_fields(data, SCIM_FIELDS)
    if record.timestamp is None and data.get("logged_at") is not None:
        unmapped["logged_at"] = data["logged_at"]

    is_group = change.resource == "group"
    class_uid = GROUP_MANAGEMENT if is_group else ACCOUNT_CHANGE
    activities = _GROUP_ACTIVITIES if is_group else _ACCOUNT_ACTIVITIES
    activity_id, activity_name = activities.get(change.activity, (OTHER, change.activity.value))
    if activity_id == OTHER:
        activity_name = text(data.get("request_method")) or activity_name
    feature = "Access SCIM provisioning logs"
    event = event_skeleton(record, class_uid, activity_id, activity_name, feature)

    status = data.get("status")
    label = text(status)
    # A status the outcome rule does not know is OCSF's Other, with the source's own word.
    status_id = STATUS_IDS[scim_outcome(status)]
    set_status(event, OTHER if status_id == UNKNOWN and label else status_id, label)
    if status is not None and label is None:
        unmapped["status"] = status
    error = data.get("error_description")
    if text(error):
        event["status_detail"] = error
    elif error is not None:
        unmapped["error_description"] = error

    resource_type = data.get("resource_type")
    if resource_type is not None and not is_resource_type(resource_type):
        unmapped["resource_type"] = resource_type
    _subjects(event, data, change, unmapped)
    _request(event, data, unmapped)

    idp_id = data.get("idp_id")
    if text(idp_id):
        # The IdP's SCIM client made the request: it is the actor.
        event["actor"] = {"app_uid": idp_id, "idp": {"uid": idp_id, "protocol_name": "SCIM"}}
    elif idp_id is not None:
        unmapped["idp_id"] = idp_id
    add_observables(event)
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _subjects(event: dict[str, Any], data: Any, change: ScimChange, unmapped: dict[str, Any]) -> None:
    email = data.get("resource_user_email")
    group_name = data.get("resource_group_name")
    resource_id = text(data.get("cf_resource_id"))
    idp_resource_id = text(data.get("idp_resource_id"))
    for key in ("resource_user_email", "resource_group_name", "cf_resource_id", "idp_resource_id"):
        if data.get(key) is not None and not text(data.get(key)):
            unmapped[key] = data[key]

    if change.resource == "group":
        group: dict[str, Any] = {}
        name = text(group_name) or change.display_name
        if name:
            group["name"] = name
        if resource_id or not name:
            group["uid"] = resource_id or ""
        if idp_resource_id:
            group["uid_alt"] = idp_resource_id
        event["group"] = group
        if text(email):
            event["user"] = ocsf_user(email)
        elif change.members:
            # OCSF names one user per event; every member stays in the parsed body.
            first = change.members[0]
            event["user"] = ocsf_user(None, name=first.display, uid=first.uid)
        return

    user = ocsf_user(email, name=change.user_name, uid=resource_id)
    if idp_resource_id:
        user["uid_alt"] = idp_resource_id
    if change.display_name:
        user["display_name"] = change.display_name
    event["user"] = user
    if text(group_name):
        unmapped["resource_group_name"] = group_name


def _request(event: dict[str, Any], data: Any, unmapped: dict[str, Any]) -> None:
    request: dict[str, Any] = {}
    method = data.get("request_method")
    if isinstance(method, str) and method.upper() in _HTTP_METHODS:
        request["http_method"] = method.upper()
    elif method is not None:
        unmapped["request_method"] = method
    info = data.get(INFO_KEY)
    if isinstance(info, dict):
        if isinstance(info.get("original_bytes"), int):
            request["body_length"] = info["original_bytes"]
        if info.get("truncated") is True:
            event["metadata"]["is_truncated"] = True
    if request:
        event["http_request"] = request
    # OCSF has no attribute for a request body; it travels redacted, as text and parsed.
    for key in ("request_body", PARSED_KEY):
        if key in data and data[key] is not None:
            unmapped[key] = data[key]
