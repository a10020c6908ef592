"""The client-side rate limiter (with a fake clock) and the atomic checkpoint file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from forwarder.checkpoints.file import CheckpointFileError, FileCheckpointStore
from forwarder.source.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_never_more_than_the_budget_in_any_period() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1200, 300.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(3000):
        await limiter.acquire()
        starts.append(clock.now)
        clock.now += 0.01
    # Any 300 s window holds at most 1200 starts, and the budget is used, not wasted.
    for index in range(len(starts) - 1200):
        assert starts[index + 1200] - starts[index] >= 300.0 - 1e-9
    assert starts[-1] < 2 * 300.0 + 30


async def test_a_request_counts_until_a_period_after_its_answer() -> None:
    """The server counts a request when it arrives: the next may start a period after the answer."""
    clock = FakeClock()
    limiter = RateLimiter(2, 300.0, clock=clock, sleep=clock.sleep)
    first = await limiter.acquire()
    second = await limiter.acquire()
    clock.now = 5.0  # both answers took five seconds
    limiter.done(first)
    limiter.done(second)
    await limiter.acquire()
    assert clock.now == 305.0


async def test_a_block_holds_every_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1200, 300.0, clock=clock, sleep=clock.sleep)
    limiter.block(300.0)
    await limiter.acquire()
    assert clock.now == 300.0
    assert limiter.remaining == 1199


async def test_checkpoints_survive_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "state" / "checkpoints.json"
    store = FileCheckpointStore(path)
    moment = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    await store.commit("a/access_requests", moment)
    await store.commit("a/scim_updates", moment)
    again = FileCheckpointStore(path)
    assert await again.load("a/access_requests") == moment
    assert await again.load("b/access_requests") is None
    assert [p.name for p in path.parent.iterdir()] == ["checkpoints.json"]  # no temporary left behind


async def test_a_corrupt_checkpoint_file_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_text("{not json")
    with pytest.raises(CheckpointFileError, match="FORWARDER_CHECKPOINT_PATH"):
        await FileCheckpointStore(path).load("a/access_requests")


async def test_remembered_ids_live_beside_the_positions_which_keep_their_plain_shape(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    store = FileCheckpointStore(path)
    moment = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    remembered = b"v1 -\n" + bytes(range(16))
    await store.commit("a/access_requests", moment, remembered)
    await store.commit("a/scim_updates", moment)
    assert orjson.loads(path.read_bytes()) == {
        "a/access_requests": moment.isoformat(),
        "a/scim_updates": moment.isoformat(),
    }
    again = FileCheckpointStore(path)
    assert await again.load_remembered("a/access_requests") == remembered
    assert await again.load_remembered("a/scim_updates") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints.json", "checkpoints.remembered.json"]


async def test_a_corrupt_remembered_file_costs_duplicates_not_a_start(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    (tmp_path / "checkpoints.remembered.json").write_text("{not json")
    assert await FileCheckpointStore(path).load_remembered("a/access_requests") is None
