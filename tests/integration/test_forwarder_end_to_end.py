"""The real forwarder against the Cloudflare simulator over real sockets: nothing lost, ever.

In-process runs for the fault cases (fast, and the simulator's ground truth is at hand); the CLI as
a subprocess for exit codes, messages and a SIGKILL in the middle of a backfill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, event_id, parse_timestamp
from forwarder.runner import Forwarder, scim_preparer
from forwarder.settings import Config, Settings, SinkConfig
from forwarder.simulator.background import SimulatorThread
from forwarder.simulator.config import (
    AUDIT_LOGS_READ,
    DEFAULT_TOKEN,
    Credential,
    SimulatorConfig,
)
from forwarder.simulator.faults import Fault
from forwarder.simulator.server import Simulator
from forwarder.sinks.file import FileSink, FileSinkSettings

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
NOW = datetime.now(UTC).replace(microsecond=0)
LOG_TYPES = (LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES)


def simulator_config(hours: float = 3.0, **overrides: Any) -> SimulatorConfig:
    options: dict[str, Any] = {
        "accounts": [ACCOUNT],
        "start": NOW - timedelta(hours=hours),
        "end": NOW,
        "access_per_minute": 6,
        "scim_per_minute": 2,
    } | overrides
    return SimulatorConfig(**options)


def settings(base_url: str, tmp_path: Path, hours: float = 3.0, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "cloudflare_api_token": DEFAULT_TOKEN,
        "cloudflare_api_base_url": base_url,
        "account_ids": [ACCOUNT],
        "start_at": f"{hours * 3600:.0f}s",
        "settle_delay": 180,
        "page_size": 100,
        "max_window": 1800,
        "retry_initial_delay": 0.01,
        "retry_max_delay": 0.05,
        "dead_letter_path": tmp_path / "dead-letters.ndjson",
        "checkpoint_path": tmp_path / "checkpoints.json",
    } | overrides
    return Settings(**options)


def output_ids(path: Path) -> Counter[str]:
    return Counter(orjson.loads(line)["_forwarder"]["event_id"] for line in path.read_bytes().splitlines())


def dead_lettered(path: Path) -> dict[str, str]:
    """Event id -> reason of every dead letter."""
    if not path.exists():
        return {}
    return {line["event_id"]: line["reason"] for line in map(orjson.loads, path.read_bytes().splitlines())}


def expected_ids(
    records: Iterator[tuple[LogType, Mapping[str, Any]]], up_to: datetime, config: Settings
) -> set[str]:
    """Ids of the records the forwarder must have shipped: every one timed before its position."""
    prepare = scim_preparer(config)
    found = set()
    for log_type, data in records:
        moment = parse_timestamp(data.get(log_type.time_field))
        if moment is None or moment >= up_to:
            continue
        if prepare is not None and log_type is LogType.SCIM_UPDATES:
            data = prepare(data)
        found.add(event_id(log_type, ACCOUNT, data))
    return found


def describe(
    ids: set[str], records: Sequence[tuple[LogType, Mapping[str, Any]]], config: Settings
) -> list[Any]:
    """The records behind ``ids``, for a failure message a person can debug."""
    prepare = scim_preparer(config)
    found = []
    for log_type, data in records:
        prepared = prepare(data) if prepare is not None and log_type is LogType.SCIM_UPDATES else data
        if event_id(log_type, ACCOUNT, prepared) in ids:
            found.append((log_type.value, dict(data)))
    return found


def all_records(simulator: Simulator) -> Iterator[tuple[LogType, Mapping[str, Any]]]:
    for log_type in LOG_TYPES:
        for record in simulator.records(ACCOUNT, log_type.value):
            yield log_type, record


async def run_once(
    simulator: Simulator, tmp_path: Path, **overrides: Any
) -> tuple[Forwarder, Path, Settings]:
    base_url = await simulator.start()
    config = settings(base_url, tmp_path, **overrides)
    output = tmp_path / "events.ndjson"
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(output), format="raw", fsync=False))
    forwarder = Forwarder.build(Config(config, (sink,)), checkpoints=MemoryCheckpointStore(), now=NOW)
    try:
        await forwarder.run(until_caught_up=True)
    finally:
        await simulator.stop()
    assert simulator.violations == []
    return forwarder, output, config


def assert_nothing_lost(
    forwarder: Forwarder, simulator: Simulator, output: Path, config: Settings
) -> Counter[str]:
    """Every record the simulator holds before a stream's final position is in the output."""
    shipped = output_ids(output)
    for stream in forwarder.streams:
        position = stream.progress.position
        assert position is not None
        assert position >= NOW - timedelta(seconds=config.settle_delay + 1)
        held = ((stream.log_type, data) for data in simulator.records(ACCOUNT, stream.log_type.value))
        missing = expected_ids(held, position, config) - set(shipped)
        assert not missing, f"{stream.key}: {len(missing)} events lost"
    return shipped


async def test_a_backfill_ships_every_record_once(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config())
    forwarder, output, config = await run_once(simulator, tmp_path)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    assert sum(shipped.values()) > 1000


async def test_a_429_storm_with_retry_after_loses_nothing(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    simulator.faults.add(Fault.too_many_requests(count=8, retry_after=0.2))
    started = time.monotonic()
    forwarder, output, config = await run_once(simulator, tmp_path, hours=1)
    assert_nothing_lost(forwarder, simulator, output, config)
    assert simulator.stats.too_many_requests == 8
    # Retry-After was honoured: eight 0.2 s waits, at least one at a time per credential.
    assert time.monotonic() - started >= 0.2


async def test_5xx_resets_and_proxy_pages_lose_nothing(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    simulator.faults.add(Fault.server_error(status=503, count=3))
    simulator.faults.add(Fault.connection_reset(count=2))
    simulator.faults.add(Fault.non_json(count=2, status=502))
    forwarder, output, config = await run_once(simulator, tmp_path, hours=1)
    assert_nothing_lost(forwarder, simulator, output, config)


async def test_a_server_that_ignores_page_is_read_to_the_end_without_looping(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=2))
    simulator.faults.add(Fault.ignore_page())
    forwarder, output, config = await run_once(simulator, tmp_path, hours=2, page_size=50)
    assert_nothing_lost(forwarder, simulator, output, config)


async def test_records_with_every_field_missing_are_shipped(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1, access_per_minute=0, scim_per_minute=0))
    moment = (NOW - timedelta(minutes=30)).isoformat()
    simulator.add_records(
        ACCOUNT, "access_requests", [{}, {"created_at": moment}, {"ray_id": None, "allowed": None}]
    )
    idp = simulator.scim_provider_ids(ACCOUNT)[0]
    simulator.add_records(ACCOUNT, "scim_updates", [{"idp_id": idp}, {"idp_id": idp, "logged_at": moment}])
    # Records without a time sit at "now" in the simulator; windows end on whole seconds.
    await asyncio.sleep(1.1)
    _, output, _ = await run_once(simulator, tmp_path, hours=1, settle_delay=0)
    lines = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert len(lines) == 5
    assert {line["_forwarder"]["log_type"] for line in lines} == {"access_requests", "scim_updates"}


def cli(env: Mapping[str, str], *arguments: str, **options: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "forwarder", *arguments],
        env={"PATH": os.environ["PATH"], **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **options,
    )


def cli_env(base_url: str, tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "CLOUDFLARE_API_TOKEN": DEFAULT_TOKEN,
        "CLOUDFLARE_API_BASE_URL": base_url,
        "FORWARDER_ACCOUNT_IDS": ACCOUNT,
        "FORWARDER_SETTLE_DELAY": "180",
        "FORWARDER_RETRY_INITIAL_DELAY": "0.01",
        "FORWARDER_RETRY_MAX_DELAY": "0.1",
        "FORWARDER_CHECKPOINT_PATH": str(tmp_path / "checkpoints.json"),
        "FORWARDER_DEAD_LETTER_PATH": str(tmp_path / "dead-letters.ndjson"),
        "FORWARDER_FILE__PATH": str(tmp_path / "events.ndjson"),
        "FORWARDER_FILE__FORMAT": "raw",
        # Parallel test processes must not fight over the default health port.
        "FORWARDER_HEALTH_PORT": "0",
        **more,
    }


def backfill_env(base_url: str, tmp_path: Path, hours: float, **more: str) -> dict[str, str]:
    """A backfill of the last ``hours`` of simulated data, in half-hour windows.

    The start is absolute: the subprocess's own "N hours ago" would begin after the first records.
    """
    defaults = {
        "FORWARDER_START_AT": (NOW - timedelta(hours=hours)).isoformat(),
        "FORWARDER_MAX_WINDOW": "30m",
        "FORWARDER_PAGE_SIZE": "100",
    }
    return cli_env(base_url, tmp_path, **(defaults | more))


def test_a_restart_in_the_middle_of_a_backfill_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL once the first windows are committed; the restart repeats only the uncommitted one."""
    with SimulatorThread(simulator_config(hours=24, access_per_minute=4, scim_per_minute=1)) as simulator:
        env = cli_env(
            simulator.base_url,
            tmp_path,
            # Absolute: the subprocess's own "24h ago" would start after the first records.
            FORWARDER_START_AT=(NOW - timedelta(hours=24)).isoformat(),
            FORWARDER_MAX_WINDOW="1h",
            FORWARDER_PAGE_SIZE="50",
        )
        # Slow answers stretch the backfill so the kill lands in the middle of it.
        simulator.add_fault(Fault.slow(0.02, count=None))
        first = cli(env, "once")
        checkpoints = tmp_path / "checkpoints.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if checkpoints.exists() and len(orjson.loads(checkpoints.read_bytes())) == 2:
                break
            time.sleep(0.05)
        assert first.poll() is None, "the backfill ended before it could be interrupted"
        first.send_signal(signal.SIGKILL)
        first.wait()
        committed_at_kill = checkpoints.read_text()
        killed_at = output_ids(tmp_path / "events.ndjson")
        simulator.clear_faults()
        second = cli(env, "once")
        _, errors = second.communicate(timeout=120)
        assert second.returncode == 0, errors.decode()
        positions = {datetime.fromisoformat(v) for v in orjson.loads(checkpoints.read_bytes()).values()}
        records = [(t, r) for t in LOG_TYPES for r in simulator.records(ACCOUNT, t.value)]
        config = settings(simulator.base_url, tmp_path)
    shipped = output_ids(tmp_path / "events.ndjson")
    assert len(killed_at) > 0
    assert sum(shipped.values()) > sum(killed_at.values())
    # The oldest records are older than FORWARDER_MAX_EVENT_AGE (24 h) by now: they are delivered all
    # the same, since the limit counts from when an event was queued, not from its own time.
    letters = dead_lettered(tmp_path / "dead-letters.ndjson")
    assert not letters, letters
    missing = expected_ids(iter(records), min(positions), config) - set(shipped) - set(letters)
    assert not missing, (
        f"{len(missing)} events lost across the restart: {describe(missing, records, config)}; "
        f"committed when killed: {committed_at_kill}; shipped before the kill: {missing & set(killed_at)}"
    )
    repeated = [key for key, count in shipped.items() if count > 1]
    # Repeats come only from the window that was in flight when the process died.
    assert len(repeated) <= 2 * 60 * 5


def test_a_missing_permission_names_it_and_exits_3(tmp_path: Path) -> None:
    limited = Credential(token="audit-only-token", permissions={AUDIT_LOGS_READ})
    with SimulatorThread(simulator_config(hours=1, credentials=[limited])) as simulator:
        env = cli_env(
            simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN="audit-only-token", FORWARDER_START_AT="1h"
        )
        process = cli(env, "once")
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 3
    text = errors.decode()
    assert "Access: Organizations, Identity Providers, and Groups Read" in text
    assert "audit-only-token" not in text


def test_a_wrong_token_exits_3_without_printing_it(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        env = cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN="not-the-right-token")
        process = cli(env, "once")
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 3
    assert "CLOUDFLARE_API_TOKEN was not accepted" in errors.decode()
    assert "not-the-right-token" not in errors.decode()


def test_bad_configuration_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    process = cli(
        {"FORWARDER_ACCOUNT_IDS": "xyz", "FORWARDER_PAGE_SIZE": "5000", "FORWARDER_FILE__FSYNC": "maybe"},
        "run",
    )
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 2
    text = errors.decode()
    for variable in ("FORWARDER_ACCOUNT_IDS", "FORWARDER_PAGE_SIZE", "FORWARDER_FILE__FSYNC"):
        assert variable in text


def test_check_reaches_cloudflare_and_the_sink(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        process = cli(cli_env(simulator.base_url, tmp_path), "check")
        output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    lines = output.decode().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("ok ") for line in lines), lines


@pytest.mark.parametrize("command", ["--version"])
def test_version(command: str) -> None:
    process = cli({}, command)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert output.decode().startswith("cloudflare-siem-forwarder 0.")


def test_a_backfill_reports_progress_at_a_steady_cadence(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=12)) as simulator:
        simulator.add_fault(Fault.slow(0.05, count=None))
        env = backfill_env(simulator.base_url, tmp_path, 12, FORWARDER_PROGRESS_INTERVAL="0.3")
        process = cli(env, "once")
        output, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors.decode()
    # `once` logs JSON lines on standard output when it is not a terminal.
    lines = [orjson.loads(line) for line in output.splitlines()]
    progress = [line for line in lines if line["message"] == "backfill progress"]
    assert len(progress) >= 2
    for line in progress:
        for key in ("stream", "events", "events_per_second", "position", "seconds_left"):
            assert key in line, line
