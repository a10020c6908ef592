"""What a SCIM update did, read from its method, resource type and (redacted) body.

Both mappings need the same answer (was this user disabled? were members added to a group?), so
it is worked out once here, from a record the source has prepared (its body parsed and redacted
by :mod:`forwarder.source.scim_bodies`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from forwarder.formats.values import bool_value, text
from forwarder.records import PARSED_KEY

Resource = Literal["user", "group"]

_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
_GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:group"
# `members[value eq "2819c223-7f76-453a-919d-413861904646"]`, the form Okta and RFC 7644 use to
# remove one member.
_MEMBER_FILTER = re.compile(r'value\s+eq\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


class Activity(StrEnum):
    CREATE = "create"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - an activity name, not a password
    ADD_MEMBERS = "add_members"
    REMOVE_MEMBERS = "remove_members"
    # PUT or PATCH that is none of the above (a rename, a profile attribute).
    CHANGE = "change"
    # A method SCIM does not use for updates, or none at all.
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Member:
    uid: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class ScimChange:
    resource: Resource | None
    activity: Activity
    # Members added or removed by this request (group PATCH), in request order.
    members: tuple[Member, ...]
    # From the body: the user's login and display name, or the group's display name.
    user_name: str | None
    display_name: str | None


def _attribute(path: str) -> str:
    """`urn:...:User:active` -> `active`; `members[value eq "x"]` -> `members`."""
    bracket = path.find("[")
    attribute = path if bracket < 0 else path[:bracket]
    if attribute.lower().startswith("urn:"):
        attribute = attribute.rsplit(":", 1)[-1]
    return attribute.lower()


def is_resource_type(value: Any) -> bool:
    """Whether ``resource_type`` is one SCIM defines (the mappings keep any other as it came)."""
    return isinstance(value, str) and value.upper() in ("USER", "GROUP")


def _resource(data: Mapping[str, Any], body: Any) -> Resource | None:
    kind = text(data.get("resource_type"))
    if kind is not None:
        upper = kind.upper()
        if upper == "USER":
            return "user"
        if upper == "GROUP":
            return "group"
    if isinstance(body, dict):
        schemas = body.get("schemas")
        if isinstance(schemas, list):
            lowered = {schema.lower() for schema in schemas if isinstance(schema, str)}
            if _USER_SCHEMA in lowered:
                return "user"
            if _GROUP_SCHEMA in lowered:
                return "group"
    if text(data.get("resource_group_name")) and not text(data.get("resource_user_email")):
        return "group"
    if text(data.get("resource_user_email")):
        return "user"
    return None


def _members(value: Any) -> list[Member]:
    items = value if isinstance(value, list) else [value]
    members = []
    for item in items:
        if isinstance(item, dict):
            members.append(Member(text(item.get("value")), text(item.get("display"))))
        elif text(item):
            members.append(Member(item, None))
    return members


class _Operations:
    """Accumulates what the operations of one PATCH (or the body of one PUT) change."""

    def __init__(self) -> None:
        self.active: bool | None = None
        self.password = False
        self.added: list[Member] = []
        self.removed: list[Member] = []
        # `remove` of `members` with neither value nor filter empties the group (RFC 7644 3.5.2.2).
        self.removed_all = False
        self.replaced_members = False

    def attributes(self, values: Mapping[Any, Any]) -> None:
        for key, value in values.items():
            if not isinstance(key, str):
                continue
            name = _attribute(key)
            if name == "active":
                active = bool_value(value)
                self.active = active if active is not None else self.active
            elif name == "password":
                self.password = True

    def operation(self, operation: Mapping[Any, Any]) -> None:
        op = text(operation.get("op"))
        verb = op.lower() if op else ""
        path = text(operation.get("path"))
        value = operation.get("value")
        if path is None:
            if isinstance(value, dict):
                self.attributes(value)
                if "members" in value:
                    self._membership(verb, value["members"], None)
            return
        name = _attribute(path)
        if name == "members":
            self._membership(verb, value, path)
        elif name == "active":
            active = bool_value(value)
            self.active = active if active is not None else self.active
        elif name == "password":
            self.password = True

    def _membership(self, verb: str, value: Any, path: str | None) -> None:
        members = _members(value) if value is not None else []
        if path is not None and not members:
            members = [Member(uid, None) for uid in _MEMBER_FILTER.findall(path)]
        if verb == "add":
            self.added.extend(members)
        elif verb == "remove":
            self.removed.extend(members)
            self.removed_all = self.removed_all or not members
        else:
            self.replaced_members = True


def _update(resource: Resource | None, method: str, body: Any) -> tuple[Activity, tuple[Member, ...]]:
    changes = _Operations()
    if isinstance(body, dict):
        if method == "PATCH":
            operations = body.get("Operations", body.get("operations"))
            for operation in operations if isinstance(operations, list) else []:
                if isinstance(operation, dict):
                    changes.operation(operation)
        else:
            changes.attributes(body)
    if resource != "group":
        # PUT replaces the whole user and IdPs send `active: true` on every profile update, so
        # only a PUT that turns the account off says something about its state.
        if changes.active is False:
            return Activity.DISABLE, ()
        if changes.active is True and method == "PATCH":
            return Activity.ENABLE, ()
        if changes.password:
            return Activity.PASSWORD_CHANGE, ()
    removed = changes.removed or changes.removed_all
    if changes.added and not removed and not changes.replaced_members:
        return Activity.ADD_MEMBERS, tuple(changes.added)
    if removed and not changes.added and not changes.replaced_members:
        return Activity.REMOVE_MEMBERS, tuple(changes.removed)
    return Activity.CHANGE, tuple(changes.added + changes.removed)


def classify(data: Mapping[str, Any]) -> ScimChange:
    """The change a prepared SCIM record describes; total over any record."""
    body = data.get(PARSED_KEY)
    resource = _resource(data, body)
    method = (text(data.get("request_method")) or "").upper()
    members: tuple[Member, ...] = ()
    if method == "POST":
        activity = Activity.CREATE
    elif method == "DELETE":
        activity = Activity.DELETE
    elif method in ("PATCH", "PUT"):
        activity, members = _update(resource, method, body)
    elif method:
        activity = Activity.OTHER
    else:
        activity = Activity.UNKNOWN
    user_name = display_name = None
    if isinstance(body, dict):
        user_name = text(body.get("userName"))
        display_name = text(body.get("displayName"))
    return ScimChange(resource, activity, members, user_name, display_name)
