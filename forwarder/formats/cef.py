"""ArcSight Common Event Format (CEF:0): escaping and the key mapping of each log type.

``CEF:0|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension``

Header fields escape ``\\`` and ``|``; extension values escape ``\\``, ``=``, and write line
breaks as ``\\n`` / ``\\r`` (the CEF spec's rules). Extension keys are fixed names from the
mapping below, so they never need escaping. The mapping is documented in docs/syslog.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from forwarder import __version__
from forwarder.formats.audit_fields import read_audit_fields
from forwarder.formats.key_value import (
    PRODUCT,
    VENDOR,
    KeyValueOptions,
    Pairs,
    escape_header,
    field_text,
    line_encoder,
    outcome_text,
    signature_id,
)
from forwarder.formats.outcome import Outcome, outcome
from forwarder.formats.values import epoch_milliseconds, ip_address, split_app_domain
from forwarder.records import LogType, Record

EXTENSION_ESCAPES = str.maketrans({"\\": "\\\\", "=": "\\=", "\n": "\\n", "\r": "\\r"})

NAMES: dict[tuple[LogType, Outcome], str] = {
    (LogType.ACCESS_REQUESTS, Outcome.SUCCESS): "Access request allowed",
    (LogType.ACCESS_REQUESTS, Outcome.FAILURE): "Access request denied",
    (LogType.ACCESS_REQUESTS, Outcome.UNKNOWN): "Access request",
    (LogType.SCIM_UPDATES, Outcome.SUCCESS): "SCIM update succeeded",
    (LogType.SCIM_UPDATES, Outcome.FAILURE): "SCIM update failed",
    (LogType.SCIM_UPDATES, Outcome.UNKNOWN): "SCIM update",
    (LogType.AUDIT_LOGS, Outcome.SUCCESS): "Account change succeeded",
    (LogType.AUDIT_LOGS, Outcome.FAILURE): "Account change failed",
    (LogType.AUDIT_LOGS, Outcome.UNKNOWN): "Account change",
}


def escape_extension(value: str) -> str:
    return value.translate(EXTENSION_ESCAPES)


def _access_pairs(record: Record) -> Pairs:
    data = record.data
    app_domain = field_text(data, "app_domain")
    host = split_app_domain(app_domain).host if app_domain else None
    return [
        ("suser", field_text(data, "user_email")),
        ("src", ip_address(data.get("ip_address"))),
        ("act", field_text(data, "action")),
        ("dhost", host),
        ("request", app_domain),
        ("externalId", field_text(data, "ray_id")),
        ("cs1Label", "appUid"),
        ("cs1", field_text(data, "app_uid")),
        ("cs2Label", "identityProvider"),
        ("cs2", field_text(data, "connection")),
    ]


def _scim_pairs(record: Record) -> Pairs:
    data = record.data
    return [
        ("duser", field_text(data, "resource_user_email")),
        ("requestMethod", field_text(data, "request_method")),
        ("reason", field_text(data, "error_description")),
        ("externalId", field_text(data, "cf_resource_id")),
        # The body as the source prepared it: redacted and bounded.
        ("msg", field_text(data, "request_body")),
        ("cs1Label", "idpId"),
        ("cs1", field_text(data, "idp_id")),
        ("cs2Label", "idpResourceId"),
        ("cs2", field_text(data, "idp_resource_id")),
        ("cs5Label", "resourceType"),
        ("cs5", field_text(data, "resource_type")),
        ("cs6Label", "resourceGroupName"),
        ("cs6", field_text(data, "resource_group_name")),
        ("flexString1Label", "status"),
        ("flexString1", field_text(data, "status")),
    ]


def _audit_pairs(record: Record) -> Pairs:
    fields = read_audit_fields(record.data, record.account_id)
    return [
        ("suser", fields.actor_email),
        ("suid", fields.actor_id),
        ("src", fields.actor_ip),
        ("act", fields.action_type),
        ("msg", fields.description),
        ("requestMethod", fields.method),
        ("request", fields.uri),
        ("requestClientApplication", fields.user_agent),
        ("externalId", fields.ray_id),
        ("cs1Label", "resourceType"),
        ("cs1", fields.resource_type),
        ("cs2Label", "resourceId"),
        ("cs2", fields.resource_id),
        ("cs5Label", "product"),
        ("cs5", fields.product),
    ]


_PAIRS = {
    LogType.ACCESS_REQUESTS: _access_pairs,
    LogType.SCIM_UPDATES: _scim_pairs,
    LogType.AUDIT_LOGS: _audit_pairs,
}


def extension_pairs(record: Record, result: Outcome) -> Pairs:
    """The extension of a record as (key, value) pairs, in a fixed order; None values are left out."""
    pairs: Pairs = [
        ("rt", str(epoch_milliseconds(record.time))),
        ("cat", record.log_type.value),
        ("outcome", outcome_text(result)),
    ]
    pairs += _PAIRS[record.log_type](record)
    pairs += [
        ("cs3Label", "accountId"),
        ("cs3", record.account_id or None),
        ("cs4Label", "eventId"),
        ("cs4", record.event_id),
    ]
    return without_orphan_labels(pairs)


def without_orphan_labels(pairs: Iterable[tuple[str, str | None]]) -> Pairs:
    """Drop a ``csNLabel`` whose ``csN`` has no value: a label alone only adds noise."""
    present = {key for key, value in pairs if value is not None}
    return [
        (key, value)
        for key, value in pairs
        if value is not None and not (key.endswith("Label") and key.removesuffix("Label") not in present)
    ]


def format_cef(
    header: Iterable[str], severity: int, extension: Iterable[tuple[str, str | None]], version: int = 0
) -> str:
    """A CEF line from its header fields (vendor, product, version, class id, name) and extension."""
    fields = "|".join(escape_header(value) for value in header)
    body = " ".join(f"{key}={escape_extension(value)}" for key, value in extension if value is not None)
    return f"CEF:{version}|{fields}|{severity}|{body}"


def to_cef(record: Record, options: KeyValueOptions) -> str:
    """The CEF line of one record. Pure and total, like every format."""
    result = outcome(record)
    name = NAMES[(record.log_type, result)]
    header = (VENDOR, PRODUCT, __version__, signature_id(record.log_type, result), name)
    return format_cef(header, options.severity(result), extension_pairs(record, result))


def cef_encoder(options: KeyValueOptions) -> Callable[[Record], bytes]:
    return line_encoder(to_cef, options)
