"""QRadar Log Event Extended Format 2.0: escaping and the attribute mapping of each log type.

``LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|key=value<delimiter>key=value``

LEEF defines no escaping, so QRadar cannot tell a delimiter inside a value from one between
attributes. We use the CEF convention (a backslash before ``\\``, ``|`` in the header and the
delimiter in values; line breaks as ``\\n``/``\\r``) so that what we write can be parsed back
exactly; choose a delimiter that does not appear in your data and the backslashes never show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

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
from forwarder.formats.outcome import outcome
from forwarder.formats.values import ip_address
from forwarder.records import LogType, Record

DEV_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"


def header_delimiter(delimiter: str) -> str:
    """How the delimiter is written in the header: itself if printable, its hex code otherwise."""
    if delimiter.isprintable() and not delimiter.isspace():
        return delimiter
    return f"x{ord(delimiter):02X}"


def escape_value(value: str, delimiter: str) -> str:
    return value.translate(
        {ord("\\"): "\\\\", ord(delimiter): "\\" + delimiter, ord("\n"): "\\n", ord("\r"): "\\r"}
    )


def java_iso_time(moment: datetime) -> str:
    """The time in Java's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` pattern, which LEEF names in devTimeFormat."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def _access_pairs(record: Record) -> Pairs:
    data = record.data
    source = ip_address(data.get("ip_address"))
    action = field_text(data, "action")
    return [
        ("usrName", field_text(data, "user_email")),
        ("src", source),
        # identSrc ties the user to the address in QRadar's identity view.
        ("identSrc", source),
        ("action", action),
        ("isLoginEvent", "true" if action == "login" else None),
        ("resource", field_text(data, "app_domain")),
        ("appUid", field_text(data, "app_uid")),
        ("identityProvider", field_text(data, "connection")),
        ("rayId", field_text(data, "ray_id")),
    ]


def _scim_pairs(record: Record) -> Pairs:
    data = record.data
    return [
        ("usrName", field_text(data, "resource_user_email")),
        ("requestMethod", field_text(data, "request_method")),
        ("resourceType", field_text(data, "resource_type")),
        ("resourceGroupName", field_text(data, "resource_group_name")),
        ("status", field_text(data, "status")),
        ("reason", field_text(data, "error_description")),
        ("idpId", field_text(data, "idp_id")),
        ("idpResourceId", field_text(data, "idp_resource_id")),
        ("cfResourceId", field_text(data, "cf_resource_id")),
        # The body as the source prepared it: redacted and bounded.
        ("requestBody", field_text(data, "request_body")),
    ]


def _audit_pairs(record: Record) -> Pairs:
    fields = read_audit_fields(record.data, record.account_id)
    return [
        ("usrName", fields.actor_email),
        ("userId", fields.actor_id),
        ("src", fields.actor_ip),
        ("identSrc", fields.actor_ip),
        ("action", fields.action_type),
        ("description", fields.description),
        ("requestMethod", fields.method),
        ("url", fields.uri),
        ("userAgent", fields.user_agent),
        ("resourceType", fields.resource_type),
        ("resource", fields.resource_id),
        ("product", fields.product),
        ("rayId", fields.ray_id),
    ]


_PAIRS = {
    LogType.ACCESS_REQUESTS: _access_pairs,
    LogType.SCIM_UPDATES: _scim_pairs,
    LogType.AUDIT_LOGS: _audit_pairs,
}


def attribute_pairs(record: Record, options: KeyValueOptions) -> Pairs:
    """The attributes of a record as (key, value) pairs, in a fixed order; None values are left out."""
    result = outcome(record)
    pairs: Pairs = [
        ("devTime", java_iso_time(record.time)),
        ("devTimeFormat", DEV_TIME_FORMAT),
        ("cat", record.log_type.value),
        ("sev", str(max(1, options.severity(result)))),
        ("outcome", outcome_text(result)),
    ]
    pairs += _PAIRS[record.log_type](record)
    pairs += [("accountId", record.account_id or None), ("eventId", record.event_id)]
    return pairs


def format_leef(header: Iterable[str], delimiter: str, attributes: Iterable[tuple[str, str | None]]) -> str:
    """A LEEF 2.0 line from its header fields (vendor, product, version, event id) and attributes."""
    fields = "|".join(escape_header(value) for value in header)
    body = delimiter.join(
        f"{key}={escape_value(value, delimiter)}" for key, value in attributes if value is not None
    )
    return f"LEEF:2.0|{fields}|{header_delimiter(delimiter)}|{body}"


def to_leef(record: Record, options: KeyValueOptions) -> str:
    """The LEEF line of one record. Pure and total, like every format."""
    header = (VENDOR, PRODUCT, __version__, signature_id(record.log_type, outcome(record)))
    return format_leef(header, options.leef_delimiter, attribute_pairs(record, options))


def leef_encoder(options: KeyValueOptions) -> Callable[[Record], bytes]:
    return line_encoder(to_leef, options)
