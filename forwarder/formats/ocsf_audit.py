"""OCSF 1.8.0 API Activity (6003) events for account audit logs.

Every audit log entry is a call to Cloudflare's API or dashboard that changed (or read) something in
the account, which is what API Activity describes: who (``actor.user``), from where
(``src_endpoint``), which operation (``api``), on what (``resources``), with which result (``status``).
The class asks for a source endpoint; an entry without the actor's address (Cloudflare's own
``system`` actions) gets an empty ``uid``, which says "not known" as the empty user uid does.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.audit_fields import AuditFields, read_audit_fields
from forwarder.formats.ocsf_event import (
    API_ACTIVITY,
    OTHER,
    STATUS_IDS,
    UNKNOWN,
    event_skeleton,
    ocsf_user,
    set_status,
)
from forwarder.formats.outcome import audit_outcome, is_audit_result
from forwarder.records import Record

AUDIT_FEATURE = "Account audit logs"
# The http_method enum of OCSF's http_request object.
_HTTP_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH"})
_ACTIVITIES = {"create": (1, "Create"), "view": (2, "Read"), "update": (3, "Update"), "delete": (4, "Delete")}


def audit_activity(label: str | None) -> tuple[int, str]:
    """(activity_id, activity_name) from ``action.type``; an unknown type is Other, in its own word."""
    if label is None:
        return UNKNOWN, "Unknown"
    return _ACTIVITIES.get(label.lower(), (OTHER, label))


def audit_log_to_ocsf(record: Record) -> dict[str, Any]:
    fields = read_audit_fields(record.data, record.account_id)
    unmapped = fields.leftovers
    activity_id, activity_name = audit_activity(fields.action_type)
    event = event_skeleton(record, API_ACTIVITY, activity_id, activity_name, AUDIT_FEATURE)
    set_status(event, STATUS_IDS[audit_outcome(fields.result)])
    if fields.result is not None and not is_audit_result(fields.result):
        unmapped.setdefault("action", {})["result"] = fields.result
    if fields.description is not None:
        event["message"] = fields.description
    event["actor"] = {"user": ocsf_user(fields.actor_email, uid=fields.actor_id)}
    event["api"] = _api(fields)
    event["src_endpoint"] = {"ip": fields.actor_ip} if fields.actor_ip is not None else {"uid": ""}
    if fields.actor_address is not None and fields.actor_ip is None:
        unmapped.setdefault("actor", {})["ip_address"] = fields.actor_address
    if fields.resource_id is not None:
        resource = {"uid": fields.resource_id}
        if fields.resource_type is not None:
            resource["type"] = fields.resource_type
        event["resources"] = [resource]
    elif fields.resource_type is not None:
        unmapped.setdefault("resource", {})["type"] = fields.resource_type
    _http(event, fields, unmapped)
    _observables(event)
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _api(fields: AuditFields) -> dict[str, Any]:
    # `operation` is required: the description names it best ("Add Member"), the type at least.
    operation = fields.description or fields.action_type or "Unknown"
    api: dict[str, Any] = {"operation": operation}
    if fields.product is not None:
        api["service"] = {"name": fields.product}
    if fields.ray_id is not None:
        api["request"] = {"uid": fields.ray_id}
    return api


def _http(event: dict[str, Any], fields: AuditFields, unmapped: dict[str, Any]) -> None:
    request: dict[str, Any] = {}
    if fields.ray_id is not None:
        request["uid"] = fields.ray_id
    if fields.method is not None:
        if fields.method.upper() in _HTTP_METHODS:
            request["http_method"] = fields.method.upper()
        else:
            unmapped.setdefault("raw", {})["method"] = fields.method
    if fields.uri is not None:
        path, _, query = fields.uri.partition("?")
        url: dict[str, Any] = {"url_string": fields.uri, "path": path}
        if query:
            url["query_string"] = query
        request["url"] = url
    if fields.user_agent is not None:
        request["user_agent"] = fields.user_agent
    if request:
        event["http_request"] = request
    if fields.status_code is not None:
        event["http_response"] = {"code": fields.status_code}


def _observables(event: dict[str, Any]) -> None:
    observables = []
    ip = event["src_endpoint"].get("ip")
    if ip:
        observables.append({"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
    email = event["actor"]["user"].get("email_addr")
    if email:
        observables.append(
            {"name": "actor.user.email_addr", "type_id": 5, "type": "Email Address", "value": email}
        )
    if observables:
        event["observables"] = observables
