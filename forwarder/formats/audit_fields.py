"""An account audit log record read once for every format: the values each format maps, and what is left.

The record nests its fields in objects (``action``, ``actor``, ``resource``, ``raw``, ``account``,
``zone``). Every format maps the same values and keeps the rest, so the reading lives here: a value a
format can carry is taken out (as text, a number or an address), and anything else, an unknown field
or a known one of the wrong type, stays in :attr:`AuditFields.leftovers`, nested as in the record, for
the vendor namespace. ``resource.request``, ``resource.response`` and ``resource.scope`` are objects
whose shape differs from product to product: they are kept as JSON text, so that one product's
shape cannot break a data store's mapping for the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forwarder.formats.values import flat_text, ip_address, text
from forwarder.records import parse_timestamp

# Fields with a place in some format, by object; everything else is a leftover.
_MAPPED: Mapping[str, frozenset[str]] = {
    "action": frozenset({"description", "result", "time", "type"}),
    "actor": frozenset({"email", "id", "ip_address"}),
    "resource": frozenset({"id", "type"}),
    "raw": frozenset({"cf_ray_id", "method", "status_code", "uri", "user_agent"}),
    "account": frozenset({"name"}),
}
# Objects of arbitrary shape: kept whole, as JSON text.
_OPAQUE = frozenset({"request", "response", "scope"})

# Resources whose changes are about who may do what: IAM rather than configuration in ECS, and
# their changes are what an identity investigation looks for.
IAM_PRODUCTS = frozenset({"access", "members", "memberships", "api_tokens", "user", "organizations"})
IAM_RESOURCE_TYPES = frozenset(
    {
        "member",
        "membership",
        "role",
        "token",
        "api_token",
        "user",
        "group",
        "access_group",
        "policy",
        "identity_provider",
        "service_token",
    }
)


@dataclass
class AuditFields:
    action_type: str | None = None
    description: str | None = None
    # As the API wrote it (the outcome rule reads it).
    result: Any = None
    actor_email: str | None = None
    actor_id: str | None = None
    actor_address: str | None = None
    # The canonical form of actor_address when it is an IP address.
    actor_ip: str | None = None
    resource_id: str | None = None
    resource_type: str | None = None
    product: str | None = None
    method: str | None = None
    status_code: int | None = None
    uri: str | None = None
    user_agent: str | None = None
    ray_id: str | None = None
    account_name: str | None = None
    leftovers: dict[str, Any] = field(default_factory=dict)

    @property
    def is_iam(self) -> bool:
        product = (self.product or "").lower()
        resource_type = (self.resource_type or "").lower()
        return product in IAM_PRODUCTS or resource_type in IAM_RESOURCE_TYPES


def read_audit_fields(data: Mapping[str, Any], account_id: str) -> AuditFields:
    fields = AuditFields()
    leftovers = fields.leftovers
    objects: dict[str, dict[str, Any]] = {}
    for name, value in data.items():
        if name in _MAPPED or name in ("resource", "zone"):
            if isinstance(value, Mapping):
                objects[name] = dict(value)
            elif value is not None:
                leftovers[name] = value
        elif name != "id" or value is not None:
            leftovers[name] = value
    _read_action(fields, objects.get("action", {}))
    _read_actor(fields, objects.get("actor", {}))
    _read_resource(fields, objects.get("resource", {}))
    _read_raw(fields, objects.get("raw", {}))
    account = objects.get("account", {})
    fields.account_name = _take_text(account, "name")
    if account.get("id") == account_id:
        # The stream's own account: said once, as the document's account.
        del account["id"]
    for name, rest in objects.items():
        if rest:
            leftovers[name] = rest
    return fields


def _take_text(values: dict[str, Any], name: str) -> str | None:
    """The value as text when it is a non-empty string (taken out of ``values``), else None (left)."""
    value = text(values.get(name))
    if value is not None:
        del values[name]
    return value


def _read_action(fields: AuditFields, action: dict[str, Any]) -> None:
    fields.action_type = _take_text(action, "type")
    fields.description = _take_text(action, "description")
    fields.result = action.pop("result", None)
    # The time is the record's timestamp; a time that did not parse stays.
    time = action.get("time")
    if time is None or (isinstance(time, str) and _parses(time)):
        action.pop("time", None)


def _parses(value: str) -> bool:
    return parse_timestamp(value) is not None


def _read_actor(fields: AuditFields, actor: dict[str, Any]) -> None:
    fields.actor_email = _take_text(actor, "email")
    fields.actor_id = _take_text(actor, "id")
    address = text(actor.get("ip_address"))
    if address is not None:
        fields.actor_address = address
        fields.actor_ip = ip_address(address)
        del actor["ip_address"]


def _read_resource(fields: AuditFields, resource: dict[str, Any]) -> None:
    fields.resource_id = _take_text(resource, "id")
    fields.resource_type = _take_text(resource, "type")
    # The product stays in the leftovers too: no format but CEF/LEEF has a place for it.
    fields.product = text(resource.get("product"))
    for name in _OPAQUE:
        if name in resource and resource[name] is not None:
            resource[name] = flat_text(resource[name])


def _read_raw(fields: AuditFields, raw: dict[str, Any]) -> None:
    fields.method = _take_text(raw, "method")
    fields.uri = _take_text(raw, "uri")
    fields.user_agent = _take_text(raw, "user_agent")
    fields.ray_id = _take_text(raw, "cf_ray_id")
    status = raw.get("status_code")
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 999:
        fields.status_code = status
        del raw["status_code"]
