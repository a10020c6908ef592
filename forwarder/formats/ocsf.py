"""OCSF 1.8.0 events: Authentication (3002) for Access requests, here; Account Change (3001) and
Group Management (3006) for SCIM updates (:mod:`forwarder.formats.ocsf_scim`); API Activity (6003)
for account audit logs (:mod:`forwarder.formats.ocsf_audit`).

`docs/mapping.md` has the field-by-field table and the reasons. No profile is listed in
``metadata.profiles``, so no profile attribute is emitted. A known field whose value OCSF cannot
hold, and every field this forwarder does not know yet, is kept as is under ``unmapped``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from forwarder.formats.known_fields import ACCESS_FIELDS, PRODUCT, access_country
from forwarder.formats.ocsf_audit import audit_log_to_ocsf
from forwarder.formats.ocsf_event import (
    AUTHENTICATION,
    OTHER,
    STATUS_IDS,
    UNKNOWN,
    add_observables,
    event_skeleton,
    ocsf_user,
    set_status,
)
from forwarder.formats.ocsf_scim import scim_update
from forwarder.formats.outcome import access_outcome
from forwarder.formats.values import ip_address, split_app_domain, text, unknown_fields
from forwarder.records import LogType, Record

# The url object's names of AppUrl's parts, in order.
URL_ATTRIBUTES = ("hostname", "port", "path", "query_string")

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


def to_ocsf(record: Record) -> dict[str, Any]:
    """The OCSF event for one record. Pure and total: any record the API can return maps."""
    if record.log_type is LogType.ACCESS_REQUESTS:
        return _authentication(record)
    if record.log_type is LogType.AUDIT_LOGS:
        return audit_log_to_ocsf(record)
    return scim_update(record)


def authentication_activity(label: str | None) -> tuple[int, str]:
    """(activity_id, activity_name) of an Authentication event from the record's action, if any."""
    if label is None:
        return UNKNOWN, "Unknown"
    activity_id = _AUTHENTICATION_ACTIONS.get(label.lower(), OTHER)
    return activity_id, label if activity_id == OTHER else _AUTHENTICATION_ACTIVITIES[activity_id]


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
    event = event_skeleton(record, AUTHENTICATION, activity_id, activity_name, ACCESS_FEATURE)

    allowed = data.get("allowed")
    set_status(event, STATUS_IDS[access_outcome(allowed)])
    if allowed is not None and not isinstance(allowed, bool):
        unmapped["allowed"] = allowed

    email, user_id = data.get("user_email"), data.get("user_id")
    event["user"] = ocsf_user(email, uid=text(user_id))
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
    _access_http_request(event, data, unmapped)
    add_observables(event)
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
    country = access_country(data, unmapped)
    if ip is not None:
        if country is not None:
            endpoint["location"] = {"country": country}
        event["src_endpoint"] = endpoint
    elif country is not None:
        # A network endpoint needs an ip (or a name); a country alone is kept unmapped.
        for key in ("country_code", "country"):
            if data.get(key) is not None:
                unmapped[key] = data[key]


def application_url(app_domain: str) -> dict[str, Any]:
    """The url object of an Access application domain (app_domain is a non-empty string)."""
    url: dict[str, Any] = {"url_string": app_domain}
    for attribute, value in zip(URL_ATTRIBUTES, split_app_domain(app_domain), strict=True):
        if value is not None:
            url[attribute] = value
    return url


def _access_http_request(event: dict[str, Any], data: Any, unmapped: dict[str, Any]) -> None:
    """The request to the application: the Ray ID and the application's URL."""
    request: dict[str, Any] = {}
    ray_id = data.get("ray_id")
    if text(ray_id):
        request["uid"] = ray_id
    elif ray_id is not None:
        unmapped["ray_id"] = ray_id
    app_domain = text(data.get("app_domain"))
    if app_domain is not None:
        request["url"] = application_url(app_domain)
    if request:
        event["http_request"] = request


@lru_cache(maxsize=256)
def _protocol_id(connection: str) -> int:
    key = connection.lower().replace("-", "").replace("_", "").replace(" ", "").replace(".", "")
    return _AUTH_PROTOCOLS.get(key, OTHER)


def auth_protocol(label: str) -> tuple[int, str, bool]:
    """(auth_protocol_id, auth_protocol, whether to keep the label in unmapped) of a connection."""
    protocol_id = _protocol_id(label)
    if protocol_id == OTHER:
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
