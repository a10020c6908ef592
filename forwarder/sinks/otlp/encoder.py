"""Events as OTLP LogRecords, built with the official ``opentelemetry-proto`` messages.

The body is the mapped document as an ``AnyValue`` map (kvlist), not a JSON string: the data model
("Logs Data Model", field Body) says a structured body SHOULD be used to keep the semantics of
structured logs from third-party applications, and a map lets a Collector's processors (OTTL's
``body["user"]["email"]``) and exporters address the fields without parsing JSON in every pipeline.
It costs one decoding of the document bytes per event, which the protobuf encoding needs anyway.

Around it, the semantic conventions: per account a Resource (``cloud.provider``, ``cloud.account.id``,
and ``service.name`` and more from ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``); per
event ``event_name`` and the ``event.name`` attribute (receivers older than OTLP 1.5 read only the
attribute), ``log.record.uid`` (the event id, so a receiver can drop a repeat), the event time and the
time the forwarder read it, and a severity from the event's outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from forwarder import __version__
from forwarder.formats.outcome import Outcome, outcome
from forwarder.records import LogType, Record
from forwarder.sinks.base import Event
from forwarder.sinks.otlp.settings import Protocol

SCOPE_NAME = "cloudflare-siem-forwarder"
CLOUD_PROVIDER = "cloudflare"
EVENT_NAMES: Mapping[LogType, str] = {
    LogType.ACCESS_REQUESTS: "cloudflare.access.request",
    LogType.SCIM_UPDATES: "cloudflare.access.scim_update",
}
# A denied login or a failed provisioning is what a security team looks for: a warning, not noise.
SEVERITIES: Mapping[Outcome, tuple[int, str]] = {
    Outcome.SUCCESS: (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO"),
    Outcome.FAILURE: (SeverityNumber.SEVERITY_NUMBER_WARN, "WARN"),
    Outcome.UNKNOWN: (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO"),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = range(-(2**63), 2**63)


def unix_nanoseconds(moment: datetime | None) -> int:
    """Nanoseconds since the epoch, exact (integer arithmetic); 0, "unknown" in OTLP, for no time or
    one before 1970, which the unsigned field cannot hold."""
    if moment is None or moment < _EPOCH:
        return 0
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def any_value(value: Any) -> AnyValue:
    """A JSON value as an AnyValue: objects as kvlists, arrays as arrays, null as an empty AnyValue."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        # JSON allows integers an int64 cannot hold; their digits are kept exactly as a string.
        return AnyValue(int_value=value) if value in _INT64 else AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value=KeyValueList(values=attributes(value)))
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    return AnyValue()


def attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=str(key), value=any_value(value)) for key, value in values.items()]


class OtlpEncoder:
    """LogRecords per event, and export requests grouping them by account under one Resource each."""

    def __init__(self, resource_attributes: Mapping[str, Any], protocol: Protocol) -> None:
        # service.name and the rest, the same for every account; the account's own are added per request.
        self._resource_attributes = dict(resource_attributes)
        self._protocol = protocol
        self._scope = InstrumentationScope(name=SCOPE_NAME, version=__version__)

    def log_record(self, event: Event) -> LogRecord:
        record = event.record
        severity, severity_text = SEVERITIES[outcome(record)]
        event_name = EVENT_NAMES[record.log_type]
        return LogRecord(
            time_unix_nano=unix_nanoseconds(record.timestamp),
            observed_time_unix_nano=unix_nanoseconds(record.observed),
            severity_number=severity,  # type: ignore[arg-type]
            severity_text=severity_text,
            body=any_value(orjson.loads(event.body)),
            attributes=attributes({"event.name": event_name, "log.record.uid": record.event_id}),
            event_name=event_name,
        )

    def request(self, items: Iterable[tuple[Record, LogRecord]]) -> ExportLogsServiceRequest:
        """One export request: a ResourceLogs per account, in the order accounts first appear."""
        by_account: dict[str, list[LogRecord]] = {}
        for record, log_record in items:
            by_account.setdefault(record.account_id, []).append(log_record)
        return ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    resource=Resource(attributes=attributes(self._resource_for(account))),
                    scope_logs=[ScopeLogs(scope=self._scope, log_records=log_records)],
                )
                for account, log_records in by_account.items()
            ]
        )

    def _resource_for(self, account_id: str) -> dict[str, Any]:
        return {**self._resource_attributes, "cloud.provider": CLOUD_PROVIDER, "cloud.account.id": account_id}

    def serialize(self, request: ExportLogsServiceRequest) -> bytes:
        if self._protocol == "http/json":
            # OTLP/JSON: lowerCamelCase names (the default) and enums as integers, as the specification says.
            text: str = json_format.MessageToJson(request, use_integers_for_enums=True, indent=None)
            return text.encode()
        body: bytes = request.SerializeToString()
        return body
