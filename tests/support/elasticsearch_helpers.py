"""Events, sinks and the resend loop the Elasticsearch sink tests share.

``deliver`` does what the pipeline will do with a sink's answers: send again the events in
``SendResult.retry``, send the whole batch again on ``RetryableError``, and collect rejections
(the dead letters). It never sleeps: the fake's faults are not timed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event, Rejection, RetryableError
from forwarder.sinks.elasticsearch import ElasticsearchSettings, ElasticsearchSink

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_event(
    number: int, log_type: LogType = LogType.ACCESS_REQUESTS, *, drop: Iterable[str] = (), **overrides: Any
) -> Event:
    """An access request (or SCIM update) with an ECS-shaped document, as the pipeline hands it over.

    ``overrides`` replace top-level fields of the document; ``drop`` removes some.
    """
    created = (START + timedelta(seconds=number)).isoformat().replace("+00:00", "Z")
    data: dict[str, Any] = {
        "ray_id": f"ray{number:08x}",
        "created_at": created,
        "user_email": f"user{number}@example.com",
    }
    if log_type is LogType.SCIM_UPDATES:
        data = {"logged_at": created, "resource_type": "USER", "request_body": {"n": number}}
    record = make_record(log_type, "account-1", data, observed=START)
    document: dict[str, Any] = {
        "@timestamp": created,
        "event": {"id": record.event_id, "kind": "event", "dataset": f"cloudflare.{log_type.value}"},
        "user": {"email": f"user{number}@example.com"},
        "source": {"ip": f"192.0.2.{number % 250}"},
        "cloudflare": {"number": number, "text": 'ünïcode ✓ "quoted"'},
    }
    document.update(overrides)
    for name in drop:
        del document[name]
    return Event(record=record, body=orjson.dumps(document))


def make_events(count: int, start: int = 0) -> list[Event]:
    """Access requests and SCIM updates, alternating, so both targets are used."""
    return [
        make_event(number, LogType.ACCESS_REQUESTS if number % 2 == 0 else LogType.SCIM_UPDATES)
        for number in range(start, start + count)
    ]


def make_sink(url: str, **settings: Any) -> ElasticsearchSink:
    return ElasticsearchSink(ElasticsearchSettings(url=url, **settings))


async def deliver(
    sink: ElasticsearchSink, events: Sequence[Event], batch_size: int = 20, max_attempts: int = 50
) -> tuple[list[Rejection], int]:
    """Send ``events`` in batches until every one is delivered or rejected; (rejections, attempts)."""
    rejected: list[Rejection] = []
    attempts = 0
    for start in range(0, len(events), batch_size):
        pending = list(events[start : start + batch_size])
        while pending:
            attempts += 1
            if attempts > max_attempts:
                raise AssertionError(f"{len(pending)} events still pending after {max_attempts} attempts")
            try:
                result = await sink.send(pending)
            except RetryableError:
                continue
            rejected.extend(result.rejected)
            settled = {id(event) for event in result.retry} | {id(r.event) for r in result.rejected}
            assert len(settled) == len(result.retry) + len(result.rejected), "an event is in two places"
            assert settled <= {id(event) for event in pending}, "the result names events not sent"
            pending = list(result.retry)
    return rejected, attempts
