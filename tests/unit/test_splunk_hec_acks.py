"""The ack tracker: one poller for every waiter, deadlines, and errors while polling."""

from __future__ import annotations

import asyncio

import pytest

from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.splunk_hec.acks import AckTracker


class ScriptedHec:
    """Answers ack queries: an id reads true after ``delay`` queries that included it."""

    def __init__(self, delay: int = 0, never: frozenset[int] = frozenset()) -> None:
        self.delay = delay
        self.never = never
        self.seen: dict[int, int] = {}
        self.queries: list[list[int]] = []
        self.failures: list[Exception] = []

    async def query(self, ack_ids: list[int]) -> dict[int, bool]:
        self.queries.append(ack_ids)
        if self.failures:
            raise self.failures.pop(0)
        statuses = {}
        for ack_id in ack_ids:
            self.seen[ack_id] = self.seen.get(ack_id, 0) + 1
            statuses[ack_id] = ack_id not in self.never and self.seen[ack_id] > self.delay
        return statuses


async def test_waits_until_every_id_is_acknowledged() -> None:
    hec = ScriptedHec(delay=3)
    tracker = AckTracker(hec.query, poll_interval=0.001)
    assert await tracker.wait([0, 1], within=30) == {0, 1}
    assert len(hec.queries) == 4
    await tracker.close()


async def test_an_id_that_is_never_acknowledged_is_given_up_after_the_deadline() -> None:
    hec = ScriptedHec(never=frozenset({1}))
    tracker = AckTracker(hec.query, poll_interval=0.001)
    waiting = asyncio.create_task(tracker.wait([1], within=0.05))
    assert await tracker.wait([0, 2], within=30) == {0, 2}
    assert await waiting == set()
    # Given up on: no longer asked about.
    before = len(hec.queries)
    assert await tracker.wait([3], within=30) == {3}
    assert all(1 not in query for query in hec.queries[before:])
    await tracker.close()


async def test_concurrent_waiters_share_the_queries() -> None:
    hec = ScriptedHec(delay=2)
    tracker = AckTracker(hec.query, poll_interval=0.001)
    results = await asyncio.gather(*(tracker.wait([ack_id], within=30) for ack_id in range(5)))
    assert results == [{ack_id} for ack_id in range(5)]
    assert any(len(query) == 5 for query in hec.queries)
    assert len(hec.queries) < 5 * 3
    await tracker.close()


async def test_a_failed_query_is_asked_again() -> None:
    hec = ScriptedHec()
    hec.failures = [RetryableError("busy"), RetryableError("reset")]
    tracker = AckTracker(hec.query, poll_interval=0.001)
    assert await tracker.wait([7], within=30) == {7}
    assert len(hec.queries) == 3
    await tracker.close()


async def test_a_configuration_error_reaches_the_waiter() -> None:
    hec = ScriptedHec()
    hec.failures = [SinkConfigError("ACK is disabled")]
    tracker = AckTracker(hec.query, poll_interval=0.001)
    with pytest.raises(SinkConfigError, match="ACK is disabled"):
        await tracker.wait([0], within=30)
    await tracker.close()


async def test_nothing_to_wait_for() -> None:
    hec = ScriptedHec()
    tracker = AckTracker(hec.query, poll_interval=0.001)
    assert await tracker.wait([], within=30) == set()
    assert hec.queries == []
    await tracker.close()
