"""ECS documents for account audit logs: a change to the account's configuration, by whom, from where.

``event.category`` is ``iam`` when the resource is about who may do what (Access, members, API
tokens: see ``audit_fields.IAM_PRODUCTS``), ``configuration`` otherwise; ``event.type`` follows
``action.type``. The actor is ``user.*`` and ``source.*``, the resource ``entity.target.id`` and
``entity.target.sub_type`` (its type), the API call ``http.*``, ``url.*`` and ``user_agent.*``.
Everything else stays under ``cloudflare.audit``.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.audit_fields import AuditFields, read_audit_fields
from forwarder.formats.ecs_base import base_document
from forwarder.formats.outcome import audit_outcome, is_audit_result
from forwarder.formats.values import unique
from forwarder.records import Record

_IAM_TYPES = {"create": "creation", "delete": "deletion", "update": "change", "view": "info"}
_CONFIGURATION_TYPES = {"create": "creation", "delete": "deletion", "update": "change", "view": "access"}


def audit_log_to_ecs(record: Record) -> dict[str, Any]:
    fields = read_audit_fields(record.data, record.account_id)
    vendor = fields.leftovers
    category = "iam" if fields.is_iam else "configuration"
    document = base_document(record, category, "cloudflare.audit_logs", provider="cloudflare_audit")
    event = document["event"]
    types = _IAM_TYPES if category == "iam" else _CONFIGURATION_TYPES
    action = (fields.action_type or "").lower()
    event["type"] = [types.get(action, "info")]
    if fields.action_type is not None:
        event["action"] = fields.action_type
    event["outcome"] = audit_outcome(fields.result).value
    if fields.result is not None and not is_audit_result(fields.result):
        vendor.setdefault("action", {})["result"] = fields.result
    if fields.description is not None:
        document["message"] = fields.description
    if fields.account_name is not None:
        document.setdefault("cloud", {}).setdefault("account", {})["name"] = fields.account_name
    related = _actor(document, fields)
    _resource(document, fields)
    _request(document, fields)
    if related:
        document["related"] = related
    if vendor:
        document["cloudflare"] = {"audit": vendor}
    return document


def _actor(document: dict[str, Any], fields: AuditFields) -> dict[str, list[str]]:
    """user.* and source.* from the actor; returns the related users and addresses."""
    user: dict[str, Any] = {}
    if fields.actor_email is not None:
        user["email"] = user["name"] = fields.actor_email
    if fields.actor_id is not None:
        user["id"] = fields.actor_id
    if user:
        document["user"] = user
    related: dict[str, list[str]] = {}
    if fields.actor_address is not None:
        source: dict[str, Any] = {"address": fields.actor_address}
        if fields.actor_ip is not None:
            source["ip"] = fields.actor_ip
            related["ip"] = [fields.actor_ip]
        document["source"] = source
    users = unique([fields.actor_email, fields.actor_id])
    if users:
        related["user"] = users
    return related


def _resource(document: dict[str, Any], fields: AuditFields) -> None:
    target: dict[str, Any] = {}
    if fields.resource_id is not None:
        target["id"] = fields.resource_id
    if fields.resource_type is not None:
        target["sub_type"] = fields.resource_type
    if target:
        document["entity"] = {"target": target}


def _request(document: dict[str, Any], fields: AuditFields) -> None:
    """The API call that made the change: http.*, url.*, user_agent.*."""
    http: dict[str, Any] = {}
    request: dict[str, Any] = {}
    if fields.ray_id is not None:
        # The Ray ID names one HTTP request to Cloudflare, as in access requests.
        request["id"] = fields.ray_id
    if fields.method is not None:
        request["method"] = fields.method
    if request:
        http["request"] = request
    if fields.status_code is not None:
        http["response"] = {"status_code": fields.status_code}
    if http:
        document["http"] = http
    if fields.uri is not None:
        path, _, query = fields.uri.partition("?")
        url: dict[str, Any] = {"original": fields.uri, "path": path}
        if query:
            url["query"] = query
        document["url"] = url
    if fields.user_agent is not None:
        document["user_agent"] = {"original": fields.user_agent}
