"""The pipeline: every record reaches every sink once, or the dead letters with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from forwarder.pipeline.acknowledgement import Ticket
from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.fan_out import Pipeline, SinkStopped
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, RetryableError, SendResult, SinkConfigError
from tests.support.access_records import records
from tests.support.memory_sink import MemorySink, MemorySinkSettings, fail_once, reject, retry_tail

FAST = {"batch_max_age": 0.01}


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def pipeline(self, *sinks: MemorySink, max_age: float = 3600) -> Pipeline:
        return Pipeline(
            list(sinks),
            DeadLetters(self.tmp_path / "dlq.ndjson"),
            backoff=Backoff(0.001, 0.01),
            max_event_age=max_age,
        )

    def dead_letters(self) -> list[dict[str, object]]:
        path = self.tmp_path / "dlq.ndjson"
        return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


async def opened(flow: Pipeline) -> Pipeline:
    await flow.open()
    return flow


def ids(events: list[Event]) -> list[str]:
    return [event.event_id for event in events]


def memory(**settings: object) -> MemorySink:
    return MemorySink(MemorySinkSettings(**(FAST | settings)))  # type: ignore[arg-type]


async def test_every_sink_gets_every_record_once(harness: Harness) -> None:
    first, second = memory(), memory(batch_max_events=3)
    flow = await opened(harness.pipeline(first, second))
    batch = records(10)
    await flow.deliver(batch)
    await flow.close()
    expected = [record.event_id for record in batch]
    assert ids(first.delivered) == expected
    assert ids(second.delivered) == expected
    assert second.calls == [3, 3, 3, 1]


async def test_retryable_failures_lose_nothing(harness: Harness) -> None:
    sink = memory()
    sink.script = [fail_once(RetryableError("down")), retry_tail(2), fail_once(RetryableError("again", 0.0))]
    flow = await opened(harness.pipeline(sink))
    batch = records(5)
    await flow.deliver(batch)
    await flow.close()
    assert sorted(ids(sink.delivered)) == sorted(record.event_id for record in batch)
    assert len(sink.delivered) == 5
    assert sink.calls == [5, 5, 3, 3]
    assert flow.status["memory"].retries == 3


async def test_a_rejected_event_goes_to_the_dead_letters_with_its_reason(harness: Harness) -> None:
    sink = memory()
    sink.script = [reject(1, "Invalid data format (code 6)")]
    flow = await opened(harness.pipeline(sink))
    batch = records(3)
    await flow.deliver(batch)
    await flow.close()
    assert ids(sink.delivered) == [batch[0].event_id, batch[2].event_id]
    [letter] = harness.dead_letters()
    assert letter["sink"] == "memory"
    assert letter["reason"] == "Invalid data format (code 6)"
    assert letter["event_id"] == batch[1].event_id
    assert letter["record"] == dict(batch[1].data)


async def test_a_configuration_error_stops_the_sink_and_holds_its_tickets(harness: Harness) -> None:
    broken, healthy = memory(), memory()
    broken.script = [fail_once(SinkConfigError("FORWARDER_MEMORY__TOKEN: refused"))]
    flow = await opened(harness.pipeline(broken, healthy))
    with pytest.raises(SinkStopped, match="refused"):
        await flow.deliver(records(2))
    await flow.drain()
    assert flow.workers[0].status.state == "config_error"
    assert flow.workers[1].status.state == "ok"
    assert broken.delivered == []
    assert len(healthy.delivered) == 2  # the other sink is not held up
    await flow.close()


async def test_an_unexpected_error_in_a_sink_stops_it_loudly_instead_of_hanging(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by a benchmark: a sink raising RuntimeError (an httpx misuse) killed the send task, the
    # batch stayed in flight and `once` waited forever without a word.
    broken, healthy = memory(), memory()
    broken.script = [fail_once(RuntimeError("Attempted to send a sync request"))]
    flow = await opened(harness.pipeline(broken, healthy))
    with pytest.raises(SinkStopped, match="unexpected RuntimeError while sending"):
        await asyncio.wait_for(flow.deliver(records(2)), timeout=30)
    await asyncio.wait_for(flow.drain(), timeout=30)
    assert flow.workers[0].status.state == "config_error"
    assert broken.delivered == []
    assert len(healthy.delivered) == 2
    assert "sink stopped by an unexpected error" in caplog.text
    assert "Traceback" in caplog.text or any(record.exc_info for record in caplog.records)
    await flow.close()


async def test_events_still_failing_past_the_age_limit_are_dead_lettered_as_expired(
    harness: Harness,
) -> None:
    sink = memory()
    sink.script = [fail_once(RetryableError("down"))] * 1000
    flow = await opened(harness.pipeline(sink, max_age=0.05))
    batch = records(2)
    await flow.deliver(batch)
    await flow.close()
    assert sink.delivered == []
    assert len(sink.calls) > 1  # retried until the limit, not given up on at once
    letters = harness.dead_letters()
    assert [letter["event_id"] for letter in letters] == [record.event_id for record in batch]
    assert all(str(letter["reason"]).startswith("expired") for letter in letters)


async def test_records_older_than_the_age_limit_are_delivered(harness: Harness) -> None:
    # The limit counts from when an event was queued: a backfill of old records is no failure.
    sink = memory()
    sink.script = [fail_once(RetryableError("down"))]
    flow = await opened(harness.pipeline(sink, max_age=3600))
    batch = records(2, age=timedelta(days=7))
    await flow.deliver(batch)
    await flow.close()
    assert [event.event_id for event in sink.delivered] == [record.event_id for record in batch]
    assert harness.dead_letters() == []


async def test_batches_respect_count_and_bytes(harness: Harness) -> None:
    by_count, by_bytes = memory(batch_max_events=4), memory(batch_max_bytes=1024, batch_max_events=1000)
    flow = await opened(harness.pipeline(by_count, by_bytes))
    await flow.deliver(records(10))
    await flow.close()
    assert by_count.calls == [4, 4, 2]
    size = len(orjson.dumps(by_bytes.delivered[0].document)) + 1
    assert max(by_bytes.calls) == 1024 // size
    assert sum(by_bytes.calls) == 10


async def test_a_sink_that_is_down_fills_its_window_then_pauses_the_source(harness: Harness) -> None:
    """Memory is bounded by the in-flight window, however long the outage lasts."""
    down = memory(max_inflight_events=20, batch_max_events=5)
    healthy = memory()
    outage = asyncio.Event()
    down.script = [lambda batch: RetryableError("down") if not outage.is_set() else None] * 1000
    flow = await opened(harness.pipeline(down, healthy))
    tickets: list[Ticket] = []

    async def produce() -> None:
        for page in range(10):
            tickets.append(await flow.submit(records(10, start=page * 10)))

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.3)
    # Two pages fit in the window of 20; the third waits: the source is paused.
    assert len(tickets) == 2
    assert not producer.done()
    assert flow.workers[0].status.inflight_events <= 20
    assert len(healthy.delivered) == 20  # the healthy sink got everything it was given
    assert not any(ticket.done.is_set() for ticket in tickets)  # the checkpoint is held back
    outage.set()
    await producer
    for ticket in tickets:
        await ticket.done.wait()
    await flow.close()
    assert len({event.event_id for event in down.delivered}) == 100
    assert len(healthy.delivered) == 100


class SlowSink(MemorySink):
    """Holds every send until released: a batch in flight for as long as a test needs."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.started = 0
        self.sending = asyncio.Event()

    async def send(self, batch: Sequence[Event]) -> SendResult:
        self.started += 1
        self.sending.set()
        await self.release.wait()
        return await super().send(batch)


async def test_a_lost_lease_abandons_queued_and_in_flight_events_uncommitted(tmp_path: Path) -> None:
    leading = True
    sink = SlowSink()
    pipeline = Pipeline(
        [sink],
        DeadLetters(tmp_path / "dlq.ndjson"),
        backoff=Backoff(0.001, 0.01),
        max_event_age=3600,
        may_send=lambda: leading,
    )
    await pipeline.open()
    try:
        first = await pipeline.submit(records(3))
        await asyncio.wait_for(sink.sending.wait(), 5)
        second = await pipeline.submit(records(3, start=3))
        # The lease may have expired: no new request starts, and what is queued or in flight goes.
        leading = False
        assert await pipeline.abandon() == 6
        sink.release.set()
        await asyncio.sleep(0.05)
        assert sink.delivered == []
        assert sink.started == 1
        assert not first.done.is_set()
        assert not second.done.is_set()
        assert pipeline.workers[0].status.inflight_events == 0
        # The next term ships what it submits.
        leading = True
        third = await pipeline.submit(records(2, start=10))
        await asyncio.wait_for(third.done.wait(), timeout=5)
        assert [event.record.data["ray_id"] for event in sink.delivered] == [f"{i:016x}" for i in (10, 11)]
    finally:
        await pipeline.close()


async def test_no_send_starts_while_the_replica_may_not_ship(tmp_path: Path) -> None:
    sink = MemorySink()
    pipeline = Pipeline(
        [sink],
        DeadLetters(tmp_path / "dlq.ndjson"),
        backoff=Backoff(0.001, 0.01),
        max_event_age=3600,
        may_send=lambda: False,
    )
    await pipeline.open()
    try:
        ticket = await pipeline.submit(records(4))
        await asyncio.sleep(0.05)
        assert sink.calls == []
        assert not ticket.done.is_set()
    finally:
        await pipeline.close()


async def test_listeners_hear_of_records_once_every_sink_acknowledged_them_never_before(
    tmp_path: Path,
) -> None:
    slow, quick = SlowSink(), memory()
    pipeline = Pipeline(
        [slow, quick], DeadLetters(tmp_path / "dlq.ndjson"), backoff=Backoff(0.001, 0.01), max_event_age=3600
    )
    heard: list[str] = []
    pipeline.on_acknowledged(lambda group: heard.extend(record.event_id for record in group))
    await pipeline.open()
    try:
        batch = records(3)
        ticket = await pipeline.submit(batch)
        while len(quick.delivered) < 3 or slow.started == 0:
            await asyncio.sleep(0.001)
        assert heard == []  # one sink has them, the other not yet
        slow.release.set()
        await asyncio.wait_for(ticket.done.wait(), timeout=5)
        assert heard == [record.event_id for record in batch]
    finally:
        await pipeline.close()


async def test_abandoned_records_are_never_reported_acknowledged(tmp_path: Path) -> None:
    sink = SlowSink()
    pipeline = Pipeline(
        [sink], DeadLetters(tmp_path / "dlq.ndjson"), backoff=Backoff(0.001, 0.01), max_event_age=3600
    )
    heard: list[str] = []
    pipeline.on_acknowledged(lambda group: heard.extend(record.event_id for record in group))
    await pipeline.open()
    try:
        await pipeline.submit(records(2))
        while sink.started == 0:
            await asyncio.sleep(0.001)
        assert await pipeline.abandon() == 2
        sink.release.set()
        await asyncio.sleep(0.05)
        assert heard == []
    finally:
        await pipeline.close()
