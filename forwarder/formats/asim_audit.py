"""ASIM **Audit Event** 0.1 rows for account audit log records.

An audit log entry is a change (or a read) of something in a Cloudflare account made through the API or
the dashboard: the operation (``Operation``, normalised in ``EventType``), the object it was made on
(``Object``, ``ObjectId``, ``ObjectType``), the Cloudflare product it belongs to (``TargetAppName``), who
made it (``Actor*``) and from where (``SrcIpAddr``, ``HttpUserAgent``). The columns are those of
``forwarder/schemas/asim_audit_event_0.1.json`` and of the custom table ``deploy/sentinel/azuredeploy.json``
creates; the rules of ``forwarder.formats.asim`` hold here too (stored columns only, the event's own time
in all three time columns, what fits no column in ``AdditionalFields``, nested as in the record).

The record has no value of the object before the change. The body of the request that created or
changed it is the nearest it has to the new value, so it is ``NewValue`` for Create and Set events
(as JSON text, as every format keeps it); reads and deletions keep it in ``AdditionalFields``.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.asim_row import Row, common_columns, finish, username_type
from forwarder.formats.audit_fields import AuditFields, read_audit_fields
from forwarder.formats.outcome import audit_outcome, is_audit_result
from forwarder.formats.values import text
from forwarder.records import Record

AUDIT_EVENT = "AuditEvent"
AUDIT_EVENT_VERSION = "0.1"

# action.type (the API's enum: create, delete, view, update) as ASIM's EventType.
_EVENT_TYPES = {"create": "Create", "delete": "Delete", "view": "Read", "update": "Set"}
# Events whose request body carries the value the object was given.
_SETTING_EVENTS = frozenset({"Create", "Set"})
# actor.type (account, cloudflare_admin, system, user) as ASIM's UserType: an account actor is one of
# the account's API tokens, an identity of its own rather than a person's.
_ACTOR_TYPES = {
    "user": "Regular",
    "account": "Service Principal",
    "system": "System",
    "cloudflare_admin": "Admin",
}


def audit_log_to_asim(record: Record) -> Row:
    fields = read_audit_fields(record.data, record.account_id)
    additional = fields.leftovers
    label = fields.action_type
    event_type = _EVENT_TYPES.get(label.lower(), "Other") if label else "Other"
    outcome = audit_outcome(fields.result)
    row = common_columns(record, AUDIT_EVENT, AUDIT_EVENT_VERSION, event_type, outcome)
    if fields.result is not None and not is_audit_result(fields.result):
        _keep(additional, "action", "result", fields.result)
    if label is not None:
        row["EventOriginalType"] = label
    # `Operation` is mandatory: the description names it best ("Add Member"), the type at least.
    row["Operation"] = fields.description or label or "Unknown"
    entry_id = additional.pop("id", None)
    if text(entry_id):
        row["EventOriginalUid"] = entry_id
    elif entry_id is not None:
        additional["id"] = entry_id
    if fields.account_name is not None:
        row["DvcScope"] = fields.account_name
    _object(row, fields, additional)
    _new_value(row, event_type, additional)
    _actor(row, fields, additional)
    _request(row, fields, additional)
    return finish(row, _without_empty_objects(additional))


def _keep(additional: dict[str, Any], section: str, name: str, value: Any) -> None:
    """Put a value back where the record had it: it fits no column."""
    additional.setdefault(section, {})[name] = value


def _object(row: Row, fields: AuditFields, additional: dict[str, Any]) -> None:
    # Both columns are mandatory; Cloudflare names a resource by its id only, and some entries (a
    # failed creation) have a type and no id.
    row["Object"] = fields.resource_id or fields.resource_type or "Unknown"
    if fields.resource_id is not None:
        row["ObjectId"] = fields.resource_id
    row["ObjectType"] = _object_type(fields)
    if fields.resource_type is not None:
        # ObjectType is a coarse enumeration: Cloudflare's own word for the type is kept beside it.
        _keep(additional, "resource", "type", fields.resource_type)
    if fields.product is not None:
        row["TargetAppName"] = fields.product
        row["TargetAppType"] = "SaaS application"
        additional.get("resource", {}).pop("product", None)


def _object_type(fields: AuditFields) -> str:
    resource_type = (fields.resource_type or "").lower()
    if "policy" in resource_type or "rule" in resource_type:
        return "Policy Rule"
    if "setting" in resource_type or "config" in resource_type:
        return "Configuration Atom"
    if fields.resource_id is not None or fields.resource_type is not None:
        return "Cloud Resource"
    return "Other"


def _new_value(row: Row, event_type: str, additional: dict[str, Any]) -> None:
    resource = additional.get("resource")
    if event_type not in _SETTING_EVENTS or not isinstance(resource, dict):
        return
    # audit_fields made the request body JSON text (or left a value that is not).
    body = resource.get("request")
    if text(body) and body != "{}":
        row["NewValue"] = body
        row["ValueType"] = "Other"
        del resource["request"]


def _actor(row: Row, fields: AuditFields, additional: dict[str, Any]) -> None:
    if fields.actor_email is not None:
        row["ActorUsername"] = fields.actor_email
        row["ActorUsernameType"] = username_type(fields.actor_email)
    if fields.actor_id is not None:
        # A Cloudflare user or account id fits none of ASIM's user id types: kept where the record had it,
        # as the Access and SCIM rows keep Cloudflare UUIDs, rather than mistyped.
        _keep(additional, "actor", "id", fields.actor_id)
    actor = additional.get("actor")
    if isinstance(actor, dict):
        actor_type = text(actor.get("type"))
        if actor_type is not None and actor_type.lower() in _ACTOR_TYPES:
            row["ActorUserType"] = _ACTOR_TYPES[actor_type.lower()]
            row["ActorOriginalUserType"] = actor_type
            del actor["type"]
    if fields.actor_ip is not None:
        row["SrcIpAddr"] = fields.actor_ip
    elif fields.actor_address is not None:
        _keep(additional, "actor", "ip_address", fields.actor_address)


def _request(row: Row, fields: AuditFields, additional: dict[str, Any]) -> None:
    if fields.user_agent is not None:
        row["HttpUserAgent"] = fields.user_agent
    if fields.uri is not None:
        row["TargetUrl"] = fields.uri
    # No Audit Event column holds the HTTP exchange itself.
    for name, value in (
        ("method", fields.method),
        ("status_code", fields.status_code),
        ("cf_ray_id", fields.ray_id),
    ):
        if value is not None:
            _keep(additional, "raw", name, value)


def _without_empty_objects(additional: dict[str, Any]) -> dict[str, Any]:
    # Taking values out can leave an object of the record empty: it says nothing.
    return {name: value for name, value in additional.items() if value != {} or name not in _SECTIONS}


_SECTIONS = frozenset({"action", "actor", "resource", "raw", "account", "zone"})
