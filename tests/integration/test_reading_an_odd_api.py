"""The forwarder against the simulator behaving in ordinary but unexpected ways: every row accounted for.

Silent page caps, rows that appear later than the overlap, a tie bigger than a page on a server
that ignores `page`, rate-limit headers on failures, odd envelopes, and a graceful restart.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.envelope import ODD_SHAPES
from fakes.cloudflare.faults import Fault
from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.file import FileCheckpointStore
from forwarder.records import LogType
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.forwarder_runs import (
    ACCOUNT,
    NOW,
    all_records,
    assert_nothing_lost,
    backfill_env,
    cli,
    expected_ids,
    output_ids,
    run_once,
    settings,
    simulator_config,
)


@pytest.mark.parametrize("cap", [100, 250, 999])
async def test_a_silent_page_cap_loses_nothing(
    cap: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 1,200 access requests and 600 SCIM updates per half-hour window: more than any capped page.
    simulator = Simulator(simulator_config(hours=1, access_per_minute=40, scim_per_minute=20))
    simulator.faults.add(Fault.page_cap(cap))
    with caplog.at_level(logging.WARNING):
        forwarder, output, config = await run_once(simulator, tmp_path, hours=1, page_size=1000)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    assert forwarder.client.page_sizes.cap("access_requests") == cap
    assert sum("FORWARDER_PAGE_SIZE" in record.getMessage() for record in caplog.records) == 1


async def test_a_tie_bigger_than_a_page_with_page_ignored_is_read_whole(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    tie = (NOW - timedelta(minutes=30)).isoformat()
    simulator.add_records(
        ACCOUNT, "access_requests", [{"ray_id": f"{index:016x}", "created_at": tie} for index in range(150)]
    )
    simulator.faults.add(Fault.ignore_page())
    forwarder, output, config = await run_once(simulator, tmp_path, hours=1, page_size=50)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    assert all(stream.progress.unreadable_seconds == 0 for stream in forwarder.streams)
    # Progress, not a loop: far from the rate budget.
    assert simulator.stats.requests_by_endpoint["access_requests"] < 300


async def test_a_tie_the_largest_page_cannot_hold_is_skipped_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = Simulator(simulator_config(hours=1))
    tie = NOW - timedelta(minutes=30)
    simulator.add_records(
        ACCOUNT,
        "access_requests",
        [{"ray_id": f"{index:016x}", "created_at": tie.isoformat()} for index in range(1200)],
    )
    simulator.faults.add(Fault.ignore_page())
    with caplog.at_level(logging.WARNING):
        forwarder, output, config = await run_once(simulator, tmp_path, hours=1, page_size=1000)
    access = next(stream for stream in forwarder.streams if stream.log_type is LogType.ACCESS_REQUESTS)
    assert access.progress.unreadable_seconds == 1
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage().split(":")[0] for record in errors] == ["rows lost"]
    # Everything outside that second arrives; of the second, the 1,000 rows one page holds.
    shipped = set(output_ids(output))
    in_tie = [(t, r) for t, r in all_records(simulator) if r.get("created_at") == tie.isoformat()]
    assert len(expected_ids(iter(in_tie), NOW + timedelta(days=1), config) & shipped) == 1000
    for stream in forwarder.streams:
        assert stream.progress.position is not None
        held = (
            (stream.log_type, r)
            for r in simulator.records(ACCOUNT, stream.log_type.value)
            if r.get("created_at") != tie.isoformat()
        )
        assert not expected_ids(held, stream.progress.position, config) - shipped
    assert simulator.stats.requests_by_endpoint["access_requests"] < 300


@pytest.mark.parametrize("kind", ["server_error", "non_json", "odd_envelope"])
async def test_rate_limit_headers_on_failures_do_not_pause(kind: str, tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    fault = {
        "server_error": Fault.server_error(503, count=3, ratelimit_headers=True),
        "non_json": Fault.non_json(count=3, ratelimit_headers=True),
        "odd_envelope": Fault.odd_envelope("success_missing", count=3, ratelimit_headers=True),
    }[kind]
    simulator.faults.add(fault)
    forwarder, output, config = await run_once(simulator, tmp_path, hours=1)
    assert_nothing_lost(forwarder, simulator, output, config)
    assert simulator.stats.faults_applied[kind] == 3
    # `r=1190;t=280` is no spent budget: the credential was never held.
    assert forwarder.client.limiter.delay() == 0.0


@pytest.mark.parametrize("shape", ODD_SHAPES)
async def test_odd_envelopes_are_retried_and_lose_nothing(shape: str, tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    simulator.faults.add(Fault.odd_envelope(shape, count=2, path="*/logs/*"))
    forwarder, output, config = await run_once(simulator, tmp_path, hours=1)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    assert simulator.stats.faults_applied["odd_envelope"] == 2


async def test_rows_appearing_later_than_the_overlap_are_delivered_once(tmp_path: Path) -> None:
    """A running forwarder, caught up; rows then appear 20 s and 5 min after their own time."""
    now = datetime.now(UTC)
    simulator = Simulator(simulator_config(hours=0.1, start=now - timedelta(minutes=6), end=now))
    base_url = await simulator.start()
    config = settings(
        base_url,
        tmp_path,
        hours=0.1,
        settle_delay=1,
        overlap=1,
        poll_interval=0.2,
        late_horizon=60,
        late_reread_interval=1,
        start_at=(now - timedelta(minutes=6)).isoformat(),
    )
    output = tmp_path / "events.ndjson"
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(output), format="raw", fsync=False))
    forwarder = Forwarder.build(
        Config(config, (sink,)), Parts(checkpoints=FileCheckpointStore(tmp_path / "c.json"))
    )
    stop = asyncio.Event()
    running = asyncio.create_task(forwarder.run(until_caught_up=False, stop=stop))
    try:
        while not all(stream.progress.caught_up for stream in forwarder.streams):
            await asyncio.sleep(0.05)
        moment = datetime.now(UTC)
        late = {"ray_id": "1a7e00000000000a", "created_at": (moment - timedelta(seconds=20)).isoformat()}
        too_late = {"ray_id": "1a7e00000000000b", "created_at": (moment - timedelta(minutes=5)).isoformat()}
        simulator.add_records(ACCOUNT, "access_requests", [late, too_late])
        access = next(stream for stream in forwarder.streams if stream.log_type is LogType.ACCESS_REQUESTS)
        deadline = time.monotonic() + 30
        while access.progress.late == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
        await simulator.stop()
    raw = output.read_bytes()
    assert raw.count(b"1a7e00000000000a") == 1
    assert b"1a7e00000000000b" not in raw  # beyond FORWARDER_LATE_HORIZON: the documented limit
    shipped = output_ids(output)
    assert max(shipped.values()) == 1  # many re-reads, no repeats
    assert access.progress.late == 1


def test_a_graceful_restart_delivers_nothing_twice(tmp_path: Path) -> None:
    """SIGTERM, then `once`: the restart reads the overlap and the late horizon again, and the ids
    kept with the checkpoint drop every repeat (with FORWARDER_CHECKPOINT_IDS=0 this test fails)."""
    with SimulatorThread(simulator_config(hours=2)) as simulator:
        simulator.add_fault(Fault.slow(0.02, count=None))
        env = backfill_env(simulator.base_url, tmp_path, 2, FORWARDER_LATE_HORIZON="15m")
        first = cli(env, "run")
        checkpoints = tmp_path / "checkpoints.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not checkpoints.exists():
            time.sleep(0.05)
        time.sleep(1)
        first.send_signal(signal.SIGTERM)
        _, errors = first.communicate(timeout=60)
        assert first.returncode == 0, errors.decode()[-3000:]
        assert (tmp_path / "checkpoints.remembered.json").exists()
        before = output_ids(tmp_path / "events.ndjson")
        simulator.clear_faults()
        second = cli(env, "once")
        _, errors = second.communicate(timeout=120)
        assert second.returncode == 0, errors.decode()[-3000:]
    shipped = output_ids(tmp_path / "events.ndjson")
    repeated = sorted(event for event, count in shipped.items() if count > 1)
    assert not repeated, f"{len(repeated)} events delivered twice across a graceful restart"
    assert len(shipped) >= len(before) > 0
