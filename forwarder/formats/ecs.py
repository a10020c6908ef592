"""Elastic Common Schema 9.4 documents for Access authentication and SCIM update records (account
audit logs: ``ecs_audit.py``).

`docs/mapping.md` has the field-by-field table and the reasons. Rules that hold throughout:
a known field whose value ECS cannot hold (wrong type, an unparseable time, an invalid IP) is kept
as is under ``cloudflare.<log>.<field>``, as is every field this forwarder does not know yet;
null known fields are treated as absent, which is what the API means by them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from forwarder.formats.ecs_audit import audit_log_to_ecs
from forwarder.formats.ecs_base import ECS_VERSION, base_document
from forwarder.formats.known_fields import ACCESS_FIELDS, SCIM_FIELDS, access_country
from forwarder.formats.outcome import (
    ACCESS_OUTCOME_TEXT,
    OUTCOME_TEXT,
    UNKNOWN_TEXT,
    is_scim_status,
    scim_outcome,
)
from forwarder.formats.scim_changes import Activity, ScimChange, classify, is_resource_type
from forwarder.formats.values import (
    ip_address,
    split_app_domain,
    text,
    unique,
    unknown_fields,
)
from forwarder.records import INFO_KEY, LogType, Record

__all__ = ["ECS_VERSION", "to_ecs"]

_ACCESS_EVENT_TYPES = {"login": "start", "logout": "end"}
_SCIM_EVENT_TYPES = {
    Activity.CREATE: "creation",
    Activity.DELETE: "deletion",
    Activity.ENABLE: "change",
    Activity.DISABLE: "change",
    Activity.PASSWORD_CHANGE: "change",
    Activity.ADD_MEMBERS: "change",
    Activity.REMOVE_MEMBERS: "change",
    Activity.CHANGE: "change",
    Activity.OTHER: "info",
    Activity.UNKNOWN: "info",
}
_SCIM_ACTIONS = {
    Activity.CREATE: "created",
    Activity.DELETE: "deleted",
    Activity.ENABLE: "enabled",
    Activity.DISABLE: "disabled",
    Activity.PASSWORD_CHANGE: "password-changed",
    Activity.ADD_MEMBERS: "member-added",
    Activity.REMOVE_MEMBERS: "member-removed",
    Activity.CHANGE: "modified",
}


def to_ecs(record: Record) -> dict[str, Any]:
    """The ECS document for one record. Pure and total: any record the API can return maps."""
    if record.log_type is LogType.ACCESS_REQUESTS:
        return _access_request(record)
    if record.log_type is LogType.AUDIT_LOGS:
        return audit_log_to_ecs(record)
    return _scim_update(record)


def _access_request(record: Record) -> dict[str, Any]:
    # Runs per event: the steps are written out here rather than in helpers, a call each costing
    # more than most steps (the SCIM path, rarer, keeps its helpers).
    data = record.data
    # `unknown_fields(data, ACCESS_FIELDS)`, its usual empty case told without the call.
    vendor = {} if ACCESS_FIELDS.issuperset(data) else unknown_fields(data, ACCESS_FIELDS)
    created_at = data.get("created_at")
    document = base_document(
        record, "authentication", "cloudflare.access_requests", "cloudflare_access", created_at
    )
    if record.timestamp is None and created_at is not None:
        vendor["created_at"] = created_at

    event = document["event"]
    action = data.get("action")
    if isinstance(action, str) and action:
        event["action"] = action
        # The API's actions are lower case already: lowered only when not found as they are.
        kind = _ACCESS_EVENT_TYPES.get(action) or _ACCESS_EVENT_TYPES.get(action.lower(), "info")
        event["type"] = [kind]
    else:
        event["type"] = ["info"]
        if action is not None:
            vendor["action"] = action
    allowed = data.get("allowed")
    # OUTCOME_TEXT[access_outcome(allowed)] without the call and the enum's (Python-level) hash.
    event["outcome"] = ACCESS_OUTCOME_TEXT[allowed] if allowed.__class__ is bool else UNKNOWN_TEXT
    if allowed is not None and not isinstance(allowed, bool):
        vendor["allowed"] = allowed

    related = _access_user_source_url(document, data, vendor)
    ray_id = data.get("ray_id")
    if isinstance(ray_id, str) and ray_id:
        # The Ray ID names one HTTP request to Cloudflare: ECS's request id, made for this.
        document["http"] = {"request": {"id": ray_id}}
    elif ray_id is not None:
        vendor["ray_id"] = ray_id

    # ECS has no place for the application's id or the IdP used.
    app_uid = data.get("app_uid")
    if app_uid is not None:
        vendor["app_uid"] = app_uid
    connection = data.get("connection")
    if connection is not None:
        vendor["connection"] = connection

    if related:
        document["related"] = related
    if vendor:
        document["cloudflare"] = {"access": vendor}
    return document


def _access_user_source_url(
    document: dict[str, Any], data: Any, vendor: dict[str, Any]
) -> dict[str, list[str]]:
    """user.*, source.* and url.* (one call per event instead of three); returns related.*, in the
    order ip, hosts, user, as the fields they come from are mapped."""
    related: dict[str, list[str]] = {}
    email = data.get("user_email")
    if isinstance(email, str) and email:
        # Access knows a person by their email only, and detections key on user.name.
        user: dict[str, Any] = {"email": email, "name": email}
        users = [email]
    else:
        user = {}
        users = []
        if email is not None:
            vendor["user_email"] = email
    user_id = data.get("user_id")
    if isinstance(user_id, str) and user_id:
        user["id"] = user_id
        if user_id != email:
            users.append(user_id)
    elif user_id is not None:
        vendor["user_id"] = user_id
    if user:
        document["user"] = user

    source: dict[str, Any] = {}
    raw_ip = data.get("ip_address")
    if isinstance(raw_ip, str) and raw_ip:
        # source.address keeps what the API said even when it is not an address ES can index.
        source["address"] = raw_ip
        ip = ip_address(raw_ip)
        if ip is not None:
            source["ip"] = ip
            related["ip"] = [ip]
    elif raw_ip is not None:
        vendor["ip_address"] = raw_ip
    # Most records have neither country field: then there is nothing to choose or keep.
    if data.get("country_code") is not None or data.get("country") is not None:
        country = access_country(data, vendor)
        if country is not None:
            source["geo"] = {"country_iso_code": country}
    if source:
        document["source"] = source

    app_domain = data.get("app_domain")
    if isinstance(app_domain, str) and app_domain:
        url, host = _access_url(app_domain)
        # A copy: each document owns its dicts, whoever reads it may change it.
        document["url"] = url.copy()
        if host is not None:
            related["hosts"] = [host]
    elif app_domain is not None:
        vendor["app_domain"] = app_domain
    if users:
        related["user"] = users
    return related


# The same few application domains come back in record after record: their url.* is built once
# (bounded, so that many domains cannot grow memory), with the host related.hosts names.
@lru_cache(maxsize=4096)
def _access_url(app_domain: str) -> tuple[dict[str, Any], str | None]:
    url: dict[str, Any] = {"original": app_domain}
    parts = split_app_domain(app_domain)
    if parts.host is not None:
        url["domain"] = parts.host
    if parts.port is not None:
        url["port"] = parts.port
    if parts.path is not None:
        url["path"] = parts.path
    if parts.query is not None:
        url["query"] = parts.query
    return url, parts.host


def _scim_update(record: Record) -> dict[str, Any]:
    # The source prepared the body (parsed, redacted, bounded) when it made the record.
    data = record.data
    change = classify(data)
    vendor = unknown_fields(data, SCIM_FIELDS)
    logged_at = data.get("logged_at")
    document = base_document(record, "iam", "cloudflare.scim_updates", "cloudflare_access", logged_at)
    event = document["event"]
    if record.timestamp is None and logged_at is not None:
        vendor["logged_at"] = logged_at

    noun = change.resource or "scim-resource"
    event["type"] = (
        [change.resource, _SCIM_EVENT_TYPES[change.activity]]
        if change.resource
        else [_SCIM_EVENT_TYPES[change.activity]]
    )
    event["action"] = _scim_action(noun, change, data)
    resource_type = data.get("resource_type")
    if resource_type is not None and not is_resource_type(resource_type):
        vendor["resource_type"] = resource_type

    status = data.get("status")
    event["outcome"] = OUTCOME_TEXT[scim_outcome(status)]
    if status is not None and not is_scim_status(status):
        vendor["status"] = status

    error = data.get("error_description")
    if text(error):
        document["error"] = {"message": error}
    elif error is not None:
        vendor["error_description"] = error

    related_users = _scim_targets(document, data, change, vendor)
    _scim_request(document, data, vendor)

    for key in ("idp_id", "idp_resource_id"):
        if data.get(key) is not None:
            vendor[key] = data[key]
    users = unique(related_users)
    if users:
        document["related"] = {"user": users}
    if vendor:
        document["cloudflare"] = {"scim": vendor}
    return document


def _scim_action(noun: str, change: ScimChange, data: Any) -> str:
    verb = _SCIM_ACTIONS.get(change.activity)
    if verb is not None:
        return f"{noun}-{verb}"
    method = text(data.get("request_method"))
    return f"{noun}-{method.lower()}" if method else "scim-update"


def _scim_targets(
    document: dict[str, Any], data: Any, change: ScimChange, vendor: dict[str, Any]
) -> list[str | None]:
    """user.target.* for the user acted on, group.* for the group; returns related users."""
    target: dict[str, Any] = {}
    group: dict[str, Any] = {}
    related: list[str | None] = []

    email = data.get("resource_user_email")
    if text(email):
        target["email"] = email
        related.append(email)
    elif email is not None:
        vendor["resource_user_email"] = email
    group_name = data.get("resource_group_name")
    if text(group_name):
        group["name"] = group_name
    elif group_name is not None:
        vendor["resource_group_name"] = group_name

    resource_id = data.get("cf_resource_id")
    if change.resource == "user":
        if text(resource_id):
            target["id"] = resource_id
        name = change.user_name or target.get("email")
        if name:
            target["name"] = name
            related.append(name)
        if change.display_name:
            target["full_name"] = change.display_name
    elif change.resource == "group":
        if text(resource_id):
            group["id"] = resource_id
        if "name" not in group and change.display_name:
            group["name"] = change.display_name
        if len(change.members) == 1 and "email" not in target:
            member = change.members[0]
            if member.uid:
                target["id"] = member.uid
            if member.display:
                target["name"] = member.display
        for member in change.members:
            related.extend((member.uid, member.display))
    if resource_id is not None and (change.resource is None or not text(resource_id)):
        vendor["cf_resource_id"] = resource_id

    if target:
        document["user"] = {"target": target}
    if group:
        document["group"] = group
    return related


def _scim_request(document: dict[str, Any], data: Any, vendor: dict[str, Any]) -> None:
    request: dict[str, Any] = {}
    method = data.get("request_method")
    if text(method):
        request["method"] = method
    elif method is not None:
        vendor["request_method"] = method
    body = data.get("request_body")
    info = data.get(INFO_KEY)
    if isinstance(body, str):
        # The parsed body is not emitted: SCIM's polymorphic `value` (string, object or array
        # from one operation to the next) would break Elasticsearch's dynamic mapping.
        request["body"] = {"content": body}
        if isinstance(info, dict) and isinstance(info.get("original_bytes"), int):
            request["body"]["bytes"] = info["original_bytes"]
        if isinstance(info, dict) and info.get("truncated") is True:
            vendor["request_body_truncated"] = True
    elif body is not None:
        vendor["request_body"] = body
    if request:
        document["http"] = {"request": request}
