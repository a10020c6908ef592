"""OCSF 1.8.0 events: Authentication (3002) for Access requests; Account Change (3001) and Group
Management (3006) for SCIM updates.

`docs/mapping.md` has the field-by-field table and the reasons. No profile is listed in
``metadata.profiles``, so no profile attribute is emitted. A known field whose value OCSF cannot
hold, and every field this forwarder does not know yet, is kept as is under ``unmapped``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from forwarder.formats.known_fields import ACCESS_FIELDS, PRODUCT, SCIM_FIELDS, VENDOR
from forwarder.formats.outcome import Outcome, access_outcome, scim_outcome
from forwarder.formats.scim_changes import Activity, ScimChange, classify
from forwarder.formats.values import (
    epoch_milliseconds,
    ip_address,
    is_ocsf_email,
    observed_epoch_milliseconds,
    text,
    unknown_fields,
)
from forwarder.records import INFO_KEY, PARSED_KEY, LogType, Record

OCSF_VERSION = "1.8.0"

_CATEGORY_UID = 3
_CATEGORY_NAME = "Identity & Access Management"
_INFORMATIONAL = 1
_UNKNOWN, _OTHER = 0, 99
_STATUS_NAMES = {0: "Unknown", 1: "Success", 2: "Failure", 99: "Other"}
_STATUS_IDS = {Outcome.SUCCESS: 1, Outcome.FAILURE: 2, Outcome.UNKNOWN: _UNKNOWN}
_ISO_COUNTRY = re.compile(r"[A-Za-z]{2}")

AUTHENTICATION = 3002
ACCESS_FEATURE = "Access authentication logs"
_LOGON, _LOGOFF = 1, 2
_AUTHENTICATION_ACTIVITIES = {0: "Unknown", 1: "Logon", 2: "Logoff", 99: "Other"}
_AUTHENTICATION_ACTIONS = {"login": _LOGON, "logout": _LOGOFF}
# Cloudflare's `connection` is the IdP integration used; each speaks one protocol (Cloudflare's
# IdP docs: the named integrations are OIDC or OAuth 2.0 apps, `saml` is generic SAML).
_AUTH_PROTOCOLS = {
    "saml": 5,
    "oidc": 4,
    "openid": 4,
    "openidconnect": 4,
    "azuread": 4,
    "okta": 4,
    "google": 4,
    "googleapps": 4,
    "onelogin": 4,
    "pingone": 4,
    "centrify": 4,
    "github": 6,
    "facebook": 6,
    "linkedin": 6,
    "yandex": 6,
    "oauth": 6,
    "oauth2": 6,
    "ldap": 12,
}
_AUTH_PROTOCOL_NAMES = {4: "OpenID", 5: "SAML", 6: "OAUTH 2.0", 12: "LDAP"}

ACCOUNT_CHANGE = 3001
_ACCOUNT_ACTIVITIES = {
    Activity.CREATE: (1, "Create"),
    Activity.ENABLE: (2, "Enable"),
    Activity.PASSWORD_CHANGE: (3, "Password Change"),
    Activity.DISABLE: (5, "Disable"),
    Activity.DELETE: (6, "Delete"),
    Activity.UNKNOWN: (0, "Unknown"),
}
GROUP_MANAGEMENT = 3006
_GROUP_ACTIVITIES = {
    Activity.ADD_MEMBERS: (3, "Add User"),
    Activity.REMOVE_MEMBERS: (4, "Remove User"),
    Activity.DELETE: (5, "Delete"),
    Activity.CREATE: (6, "Create"),
    Activity.UNKNOWN: (0, "Unknown"),
}
_CLASS_NAMES = {
    AUTHENTICATION: "Authentication",
    ACCOUNT_CHANGE: "Account Change",
    GROUP_MANAGEMENT: "Group Management",
}
# http_request.http_method is an enum in OCSF 1.8.0.
_HTTP_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH"})


def to_ocsf(record: Record) -> dict[str, Any]:
    """The OCSF event for one record. Pure and total: any record the API can return maps."""
    if record.log_type is LogType.ACCESS_REQUESTS:
        return _authentication(record)
    return _scim_update(record)


def classification(class_uid: int, activity_id: int, activity_name: str) -> dict[str, Any]:
    """The members an event opens with, up to ``time``: what it is, by class and activity."""
    class_name = _CLASS_NAMES[class_uid]
    caption = "Other" if activity_id == _OTHER else activity_name
    return {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": _CATEGORY_UID,
        "category_name": _CATEGORY_NAME,
        "class_uid": class_uid,
        "class_name": class_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {caption}",
        "severity_id": _INFORMATIONAL,
        "severity": "Informational",
    }


def metadata_after_uid(log_type: LogType, account_id: str, logged_time: int, feature: str) -> dict[str, Any]:
    """``metadata`` but its version and uid: the same for every event of a stream's page."""
    metadata: dict[str, Any] = {
        "product": {"name": PRODUCT, "vendor_name": VENDOR, "feature": {"name": feature}},
        "log_name": log_type.value,
        # When this forwarder fetched the event; `time` is when Cloudflare says it happened.
        "logged_time": logged_time,
    }
    if account_id:
        metadata["tenant_uid"] = account_id
    return metadata


def _event(
    record: Record, class_uid: int, activity_id: int, activity_name: str, feature: str
) -> dict[str, Any]:
    event = classification(class_uid, activity_id, activity_name)
    event["time"] = epoch_milliseconds(record.time)
    logged_time = observed_epoch_milliseconds(record.observed)
    event["metadata"] = {
        "version": OCSF_VERSION,
        "uid": record.event_id,
        **metadata_after_uid(record.log_type, record.account_id, logged_time, feature),
    }
    return event


def authentication_activity(label: str | None) -> tuple[int, str]:
    """(activity_id, activity_name) of an Authentication event from the record's action, if any."""
    if label is None:
        return _UNKNOWN, "Unknown"
    activity_id = _AUTHENTICATION_ACTIONS.get(label.lower(), _OTHER)
    return activity_id, label if activity_id == _OTHER else _AUTHENTICATION_ACTIVITIES[activity_id]


def _status(event: dict[str, Any], status_id: int, label: str | None = None) -> None:
    event["status_id"] = status_id
    # For Other, OCSF wants the source's own word in `status`.
    event["status"] = label if status_id == _OTHER and label else _STATUS_NAMES[status_id]


def _user(email: Any, *, name: str | None = None, uid: str | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if text(email):
        user["name"] = email
        # The class schemas hold email_addr to a pattern that Unicode or odd addresses fail;
        # those stay in `name`.
        if is_ocsf_email(email):
            user["email_addr"] = email
    elif name:
        user["name"] = name
    if uid:
        user["uid"] = uid
    if "name" not in user and "uid" not in user:
        # OCSF requires a name or uid; an empty uid says "not known" and matches no real account,
        # where a placeholder name could.
        user["uid"] = ""
    return user


def _observables(event: dict[str, Any]) -> None:
    observables = []
    ip = event.get("src_endpoint", {}).get("ip")
    if ip:
        observables.append({"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
    email = event.get("user", {}).get("email_addr")
    if email:
        observables.append({"name": "user.email_addr", "type_id": 5, "type": "Email Address", "value": email})
    if observables:
        event["observables"] = observables


def _authentication(record: Record) -> dict[str, Any]:
    data = record.data
    unmapped = unknown_fields(data, ACCESS_FIELDS)
    if record.timestamp is None and data.get("created_at") is not None:
        unmapped["created_at"] = data["created_at"]

    action = data.get("action")
    label = text(action)
    if label is None and action is not None:
        unmapped["action"] = action
    activity_id, activity_name = authentication_activity(label)
    event = _event(record, AUTHENTICATION, activity_id, activity_name, ACCESS_FEATURE)

    allowed = data.get("allowed")
    _status(event, _STATUS_IDS[access_outcome(allowed)])
    if allowed is not None and not isinstance(allowed, bool):
        unmapped["allowed"] = allowed

    email, user_id = data.get("user_email"), data.get("user_id")
    event["user"] = _user(email, uid=text(user_id))
    for key, value in (("user_email", email), ("user_id", user_id)):
        if value is not None and not text(value):
            unmapped[key] = value

    service: dict[str, Any] = {}
    for key, attribute in (("app_domain", "name"), ("app_uid", "uid")):
        value = data.get(key)
        if text(value):
            service[attribute] = value
        elif value is not None:
            unmapped[key] = value
    # Authentication needs a service or a destination; without an application named in the
    # record, the service authenticated to is Access itself.
    event["service"] = service or {"name": PRODUCT}

    _source(event, data, unmapped)
    _auth_protocol(event, data.get("connection"), unmapped)

    ray_id = data.get("ray_id")
    if text(ray_id):
        event["http_request"] = {"uid": ray_id}
    elif ray_id is not None:
        unmapped["ray_id"] = ray_id

    _observables(event)
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _source(event: dict[str, Any], data: Any, unmapped: dict[str, Any]) -> None:
    endpoint: dict[str, Any] = {}
    raw_ip = data.get("ip_address")
    ip = ip_address(raw_ip)
    if ip is not None:
        endpoint["ip"] = ip
    elif raw_ip is not None:
        unmapped["ip_address"] = raw_ip
    country = data.get("country_code")
    if isinstance(country, str) and _ISO_COUNTRY.fullmatch(country):
        endpoint["location"] = {"country": country.upper()}
    elif country is not None:
        unmapped["country_code"] = country
    # A network endpoint needs an ip (or a name); a country alone is kept unmapped.
    if "ip" in endpoint:
        event["src_endpoint"] = endpoint
    elif "location" in endpoint:
        unmapped["country_code"] = country


@lru_cache(maxsize=256)
def _protocol_id(connection: str) -> int:
    key = connection.lower().replace("-", "").replace("_", "").replace(" ", "").replace(".", "")
    return _AUTH_PROTOCOLS.get(key, _OTHER)


def auth_protocol(label: str) -> tuple[int, str, bool]:
    """(auth_protocol_id, auth_protocol, whether to keep the label in unmapped) of a connection."""
    protocol_id = _protocol_id(label)
    if protocol_id == _OTHER:
        return protocol_id, label, False
    # The protocol is derived; which IdP integration it was is kept too.
    return protocol_id, _AUTH_PROTOCOL_NAMES[protocol_id], True


def _auth_protocol(event: dict[str, Any], connection: Any, unmapped: dict[str, Any]) -> None:
    label = text(connection)
    if label is None:
        if connection is not None:
            unmapped["connection"] = connection
        return
    event["auth_protocol_id"], event["auth_protocol"], keep = auth_protocol(label)
    if keep:
        unmapped["connection"] = label


def _scim_update(record: Record) -> dict[str, Any]:
    # The source prepared the body (parsed, redacted, bounded) when it made the record.
    data = record.data
    change = classify(data)
    unmapped = unknown_fields(data, SCIM_FIELDS)
    if record.timestamp is None and data.get("logged_at") is not None:
        unmapped["logged_at"] = data["logged_at"]

    is_group = change.resource == "group"
    class_uid = GROUP_MANAGEMENT if is_group else ACCOUNT_CHANGE
    activities = _GROUP_ACTIVITIES if is_group else _ACCOUNT_ACTIVITIES
    activity_id, activity_name = activities.get(change.activity, (_OTHER, change.activity.value))
    if activity_id == _OTHER:
        activity_name = text(data.get("request_method")) or activity_name
    feature = "Access SCIM provisioning logs"
    event = _event(record, class_uid, activity_id, activity_name, feature)

    status = data.get("status")
    label = text(status)
    # A status the outcome rule does not know is OCSF's Other, with the source's own word.
    status_id = _STATUS_IDS[scim_outcome(status)]
    _status(event, _OTHER if status_id == _UNKNOWN and label else status_id, label)
    if status is not None and label is None:
        unmapped["status"] = status
    error = data.get("error_description")
    if text(error):
        event["status_detail"] = error
    elif error is not None:
        unmapped["error_description"] = error

    resource_type = data.get("resource_type")
    if resource_type is not None and not (
        isinstance(resource_type, str) and resource_type.upper() in ("USER", "GROUP")
    ):
        unmapped["resource_type"] = resource_type
    _scim_subjects(event, data, change, unmapped)
    _scim_request(event, data, unmapped)

    idp_id = data.get("idp_id")
    if text(idp_id):
        # The IdP's SCIM client made the request: it is the actor.
        event["actor"] = {"app_uid": idp_id, "idp": {"uid": idp_id, "protocol_name": "SCIM"}}
    elif idp_id is not None:
        unmapped["idp_id"] = idp_id
    _observables(event)
    if unmapped:
        event["unmapped"] = unmapped
    return event


def _scim_subjects(event: dict[str, Any], data: Any, change: ScimChange, unmapped: dict[str, Any]) -> None:
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
            event["user"] = _user(email)
        elif change.members:
            # OCSF names one user per event; every member stays in the parsed body.
            first = change.members[0]
            event["user"] = _user(None, name=first.display, uid=first.uid)
        return

    user = _user(email, name=change.user_name, uid=resource_id)
    if idp_resource_id:
        user["uid_alt"] = idp_resource_id
    if change.display_name:
        user["display_name"] = change.display_name
    event["user"] = user
    if text(group_name):
        unmapped["resource_group_name"] = group_name


def _scim_request(event: dict[str, Any], data: Any, unmapped: dict[str, Any]) -> None:
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
