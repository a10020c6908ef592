"""LogRecords and export requests as the OTLP data model and the semantic conventions want them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

from fakes.otlp_collector import attributes, plain
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.otlp.encoder import OtlpEncoder, any_value, unix_nanoseconds
from tests.support.splunk_hec_support import ACCOUNT, START, make_event, make_events

RESOURCE = {"service.name": "siem-forwarder", "deployment.environment.name": "prod"}


def encoder(protocol: str = "http/protobuf") -> OtlpEncoder:
    return OtlpEncoder(RESOURCE, protocol)  # type: ignore[arg-type]


def test_times_are_exact_nanoseconds_and_unknown_is_zero() -> None:
    moment = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert unix_nanoseconds(moment) == 1_740_830_400_123_456_000
    assert unix_nanoseconds(None) == 0
    assert unix_nanoseconds(datetime(1969, 12, 31, tzinfo=UTC)) == 0


def test_json_values_become_any_values_and_back() -> None:
    document = {
        "s": "text",
        "i": -7,
        "big": 2**70,
        "f": 1.5,
        "t": True,
        "none": None,
        "list": [1, "two", {"three": 3}],
        "nested": {"a": {"b": []}},
    }
    expected = {**document, "big": str(2**70)}
    assert plain(any_value(document)) == expected


def test_a_log_record_carries_the_event() -> None:
    event = make_event(1)
    record = encoder().log_record(event)
    assert record.time_unix_nano == unix_nanoseconds(event.record.timestamp)
    assert record.observed_time_unix_nano == unix_nanoseconds(START)
    assert record.time_unix_nano != record.observed_time_unix_nano
    assert plain(record.body) == orjson.loads(event.body)
    assert record.event_name == "cloudflare.access.request"
    assert attributes(record.attributes) == {
        "event.name": "cloudflare.access.request",
        "log.record.uid": event.event_id,
    }


def test_severity_follows_the_outcome() -> None:
    # make_event: every third access request is denied.
    allowed, denied = encoder().log_record(make_event(1)), encoder().log_record(make_event(3))
    assert (allowed.severity_number, allowed.severity_text) == (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO")
    assert (denied.severity_number, denied.severity_text) == (SeverityNumber.SEVERITY_NUMBER_WARN, "WARN")
    scim = make_record(LogType.SCIM_UPDATES, ACCOUNT, {"status": "FAILURE", "logged_at": START.isoformat()})
    failed = encoder().log_record(Event(scim, b"{}"))
    assert failed.severity_number == SeverityNumber.SEVERITY_NUMBER_WARN
    assert failed.event_name == "cloudflare.access.scim_update"


def test_a_record_without_an_event_time_has_time_zero_and_is_still_observed() -> None:
    record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, {"ray_id": "r1"}, observed=START)
    encoded = encoder().log_record(Event(record, b'{"ray_id":"r1"}'))
    assert encoded.time_unix_nano == 0
    assert encoded.observed_time_unix_nano == unix_nanoseconds(START)


def test_one_resource_per_account_with_the_semantic_conventions() -> None:
    other = "fedcba9876543210fedcba9876543210"
    first = make_events(2)
    second = make_record(LogType.ACCESS_REQUESTS, other, {"created_at": START.isoformat()}, observed=START)
    events = [first[0], Event(second, b"{}"), first[1]]
    plain_encoder = encoder()
    request = plain_encoder.request((event.record, plain_encoder.log_record(event)) for event in events)
    resources = [attributes(logs.resource.attributes) for logs in request.resource_logs]
    assert resources == [
        {**RESOURCE, "cloud.provider": "cloudflare", "cloud.account.id": ACCOUNT},
        {**RESOURCE, "cloud.provider": "cloudflare", "cloud.account.id": other},
    ]
    counts = [len(logs.scope_logs[0].log_records) for logs in request.resource_logs]
    assert counts == [2, 1]
    assert request.resource_logs[0].scope_logs[0].scope.name == "cloudflare-siem-forwarder"


def test_protobuf_and_json_encodings_carry_the_same_request() -> None:
    events = make_events(3, start=1)
    protobuf_encoder, json_encoder = encoder(), encoder("http/json")
    request = protobuf_encoder.request((event.record, protobuf_encoder.log_record(event)) for event in events)
    binary = protobuf_encoder.serialize(request)
    text = json_encoder.serialize(request)
    assert ExportLogsServiceRequest.FromString(binary) == request
    assert json_format.Parse(text, ExportLogsServiceRequest()) == request
    # OTLP/JSON: lowerCamelCase names, enums as integers, one line.
    document = json.loads(text)
    record = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["severityNumber"] == 9
    assert "timeUnixNano" in record
    assert b"\n" not in text
