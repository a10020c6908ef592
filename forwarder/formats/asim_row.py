"""The columns every ASIM row of this forwarder has, whatever its schema: times, result, product, ids.

``forwarder.formats.asim`` (Authentication, User Management) and ``forwarder.formats.asim_audit`` (Audit
Event) build on these, so that the rules the docs state once hold in every table.
"""

from __future__ import annotations

from typing import Any

from forwarder.formats.known_fields import PRODUCT, VENDOR
from forwarder.formats.outcome import Outcome
from forwarder.formats.values import iso_timestamp_from, observed_iso_timestamp
from forwarder.records import Record

Row = dict[str, Any]

RESULTS = {Outcome.SUCCESS: "Success", Outcome.FAILURE: "Failure", Outcome.UNKNOWN: "NA"}


def event_time(record: Record) -> str:
    timestamp = record.timestamp
    if timestamp is None:
        return observed_iso_timestamp(record.observed)
    return iso_timestamp_from(record.log_type.time_value(record.data), timestamp)


def common_columns(record: Record, schema: str, version: str, event_type: str, outcome: Outcome) -> Row:
    moment = event_time(record)
    row: Row = {
        "TimeGenerated": moment,
        "EventStartTime": moment,
        "EventEndTime": moment,
        "EventCount": 1,
        "EventType": event_type,
        "EventResult": RESULTS[outcome],
        # A refused logon or a failed change deserves a look; nothing here is more than that.
        "EventSeverity": "Low" if outcome is Outcome.FAILURE else "Informational",
        "EventProduct": PRODUCT,
        "EventVendor": VENDOR,
        "EventSchema": schema,
        "EventSchemaVersion": version,
        "EventUid": record.event_id,
        # A cloud service reports these events, not a device: ASIM's rule is then the product's name.
        "Dvc": PRODUCT,
    }
    if record.account_id:
        # ASIM's scope id is "an account ID on AWS", a subscription on Azure: Cloudflare's account.
        row["DvcScopeId"] = record.account_id
    return row


def username_type(name: str) -> str:
    return "UPN" if "@" in name else "Simple"


def finish(row: Row, additional: dict[str, Any]) -> Row:
    if additional:
        row["AdditionalFields"] = additional
    return row
