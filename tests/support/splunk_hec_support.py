"""Helpers for the Splunk HEC tests: events and sinks pointed at the fake (and the pipeline's resend loop,
from tests/support/delivery.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from fakes.splunk_hec import FakeHec, IndexedEvent
from forwarder.formats import to_raw
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink
from tests.support.delivery import deliver as deliver

TOKEN = "11111111-2222-3333-4444-555555555555"
ACCOUNT = "0123456789abcdef0123456789abcdef"
START = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_event(number: int, log_type: LogType = LogType.ACCESS_REQUESTS, account: str = ACCOUNT) -> Event:
    moment = (START + timedelta(seconds=number)).isoformat()
    if log_type is LogType.ACCESS_REQUESTS:
        data: dict[str, Any] = {
            "ray_id": f"ray{number:06d}",
            "created_at": moment,
            "user_email": f"user{number}@example.com",
            "action": "login",
            "allowed": number % 3 != 0,
            "ip_address": "198.51.100.7",
        }
    else:
        data = {"logged_at": moment, "resource_type": "USER", "request_method": "PATCH", "n": number}
    record = make_record(log_type, account, data, observed=START)
    document = to_raw(record)
    return Event(record=record, body=orjson.dumps(document))


def make_events(count: int, start: int = 0, log_type: LogType = LogType.ACCESS_REQUESTS) -> list[Event]:
    return [make_event(number, log_type) for number in range(start, start + count)]


def with_body(event: Event, body: bytes) -> Event:
    """The same event with other document bytes: how a poison event is made."""
    return Event(record=event.record, body=body)


def event_id_of(indexed: IndexedEvent) -> str:
    document = indexed.event
    return str(document["_forwarder"]["event_id"]) if isinstance(document, dict) else repr(document)


def sink_for(fake: FakeHec, **settings: Any) -> SplunkHecSink:
    values: dict[str, Any] = {"url": fake.url, "token": TOKEN, "ack_poll_interval": 0.005}
    values.update(settings)
    return SplunkHecSink(SplunkHecSettings(**values))
