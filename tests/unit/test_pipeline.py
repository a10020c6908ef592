"""The pipeline: every record reaches every sink once, or the dead letters with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from forwarder.dead_letters import DeadLetters
from forwarder.pipeline import Pipeline, SinkStopped, batches
from forwarder.records import LogType, Record, make_record
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, RetryableError, SinkConfigError
from tests.fakes.memory_sink import MemorySink, MemorySinkSettings, fail_once, reject, retry_tail

ACCOUNT = "0123456789abcdef0123456789abcdef"


def records(count: int, *, age: timedelta = timedelta(0)) -> list[Record]:
    when = datetime.now(UTC) - age
    return [
        make_record(
            LogType.ACCESS_REQUESTS,
            ACCOUNT,
            {
                "ray_id": f"{index:016x}",
                "created_at": when.isoformat(),
                "user_email": f"u{index}@example.com",
            },
        )
        for index in range(count)
    ]


def pipeline(tmp_path: Path, *sinks: MemorySink, max_age: float = 3600) -> Pipeline:
    return Pipeline(
        list(sinks), DeadLetters(tmp_path / "dlq.ndjson"), backoff=Backoff(0.001, 0.01), max_event_age=max_age
    )


def dead_letters(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "dlq.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def ids(events: list[Event]) -> list[str]:
    return [event.event_id for event in events]


async def test_every_sink_gets_every_record_once(tmp_path: Path) -> None:
    first, second = MemorySink(), MemorySink(MemorySinkSettings(batch_max_events=3))
    batch = records(10)
    await pipeline(tmp_path, first, second).deliver(batch)
    expected = [record.event_id for record in batch]
    assert ids(first.delivered) == expected
    assert ids(second.delivered) == expected
    assert second.calls == [3, 3, 3, 1]


async def test_retryable_failures_lose_nothing(tmp_path: Path) -> None:
    sink = MemorySink(
        script=[fail_once(RetryableError("down")), retry_tail(2), fail_once(RetryableError("again", 0.0))]
    )
    batch = records(5)
    flow = pipeline(tmp_path, sink)
    await flow.deliver(batch)
    assert sorted(ids(sink.delivered)) == sorted(record.event_id for record in batch)
    assert len(sink.delivered) == 5
    assert sink.calls == [5, 5, 3, 3]
    assert flow.status["memory"].retries == 3


async def test_a_rejected_event_goes_to_the_dead_letters_with_its_reason(tmp_path: Path) -> None:
    sink = MemorySink(script=[reject(1, "Invalid data format (code 6)")])
    batch = records(3)
    await pipeline(tmp_path, sink).deliver(batch)
    assert ids(sink.delivered) == [batch[0].event_id, batch[2].event_id]
    [letter] = dead_letters(tmp_path)
    assert letter["sink"] == "memory"
    assert letter["reason"] == "Invalid data format (code 6)"
    assert letter["event_id"] == batch[1].event_id
    assert letter["record"] == dict(batch[1].data)


async def test_a_configuration_error_stops_the_delivery(tmp_path: Path) -> None:
    sink = MemorySink(script=[fail_once(SinkConfigError("FORWARDER_MEMORY__TOKEN: refused"))])
    flow = pipeline(tmp_path, sink)
    with pytest.raises(SinkStopped, match="refused"):
        await flow.deliver(records(2))
    assert flow.status["memory"].state == "config_error"
    assert sink.delivered == []


async def test_events_past_the_age_limit_are_dead_lettered_as_expired(tmp_path: Path) -> None:
    sink = MemorySink(script=[fail_once(RetryableError("down"))])
    batch = records(2, age=timedelta(hours=2))
    await pipeline(tmp_path, sink, max_age=3600).deliver(batch)
    assert sink.delivered == []
    letters = dead_letters(tmp_path)
    assert [letter["event_id"] for letter in letters] == [record.event_id for record in batch]
    assert all(str(letter["reason"]).startswith("expired") for letter in letters)


def test_batches_respect_count_and_bytes() -> None:
    events = [Event(record, {}, b"x" * 99) for record in records(10)]
    assert [len(batch) for batch in batches(events, max_events=4, max_bytes=10_000)] == [4, 4, 2]
    assert [len(batch) for batch in batches(events, max_events=100, max_bytes=250)] == [2, 2, 2, 2, 2]
    assert [len(batch) for batch in batches(events[:2], max_events=100, max_bytes=10)] == [1, 1]
