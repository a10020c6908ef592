"""What every OCSF 1.8.0 event this forwarder writes has: its class and activity, time and
metadata, status, a user, and observables. The classes are in :mod:`forwarder.formats.ocsf`
(Authentication), :mod:`forwarder.formats.ocsf_scim` (Account Change, Group Management) and
:mod:`forwarder.formats.ocsf_audit` (API Activity).
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.known_fields import PRODUCT, VENDOR
from forwarder.formats.outcome import Outcome
from forwarder.formats.values import epoch_milliseconds, is_ocsf_email, observed_epoch_milliseconds, text
from forwarder.records import LogType, Record

OCSF_VERSION = "1.8.0"

_INFORMATIONAL = 1
# The status_id and activity_id every class shares for "not known" and "none of the listed".
UNKNOWN, OTHER = 0, 99
_STATUS_NAMES = {0: "Unknown", 1: "Success", 2: "Failure", 99: "Other"}
STATUS_IDS = {Outcome.SUCCESS: 1, Outcome.FAILURE: 2, Outcome.UNKNOWN: UNKNOWN}

AUTHENTICATION = 3002
ACCOUNT_CHANGE = 3001
GROUP_MANAGEMENT = 3006
API_ACTIVITY = 6003
_CLASS_NAMES = {
    AUTHENTICATION: "Authentication",
    ACCOUNT_CHANGE: "Account Change",
    GROUP_MANAGEMENT: "Group Management",
    API_ACTIVITY: "API Activity",
}
_IDENTITY = (3, "Identity & Access Management")
# A class's category is its uid's thousands.
_CATEGORIES = {3: _IDENTITY, 6: (6, "Application Activity")}


def classification(class_uid: int, activity_id: int, activity_name: str) -> dict[str, Any]:
    """The members an event opens with, up to ``time``: what it is, by class and activity."""
    class_name = _CLASS_NAMES[class_uid]
    caption = "Other" if activity_id == OTHER else activity_name
    category_uid, category_name = _CATEGORIES[class_uid // 1000]
    return {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": category_uid,
        "category_name": category_name,
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


def event_skeleton(
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


def set_status(event: dict[str, Any], status_id: int, label: str | None = None) -> None:
    event["status_id"] = status_id
    # For Other, OCSF wants the source's own word in `status`.
    event["status"] = label if status_id == OTHER and label else _STATUS_NAMES[status_id]


def ocsf_user(email: Any, *, name: str | None = None, uid: str | None = None) -> dict[str, Any]:
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


def add_observables(event: dict[str, Any]) -> None:
    observables = []
    ip = event.get("src_endpoint", {}).get("ip")
    if ip:
        observables.append({"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip})
    email = event.get("user", {}).get("email_addr")
    if email:
        observables.append({"name": "user.email_addr", "type_id": 5, "type": "Email Address", "value": email})
    if observables:
        event["observables"] = observables
