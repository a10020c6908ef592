"""Running the forwarder against the Cloudflare simulator, in-process or as the CLI: shared by the
integration tests (the simulator's ground truth, the ids a run must have shipped, the environments)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from fakes.cloudflare.config import (
    DEFAULT_TOKEN,
    SimulatorConfig,
)
from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.builders import scim_preparer
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, event_id, parse_timestamp
from forwarder.settings import Config, Settings, SinkConfig
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
        # These runs read hundreds of small pages in seconds: the forwarder's pacing (1000 per 300 s by
        # default) would stretch them to minutes. The simulator still enforces its 1200 per 300 s, and
        # the limiter has tests of its own (tests/unit/test_rate_budget.py).
        "rate_limit_requests": 1_000_000,
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
        moment = parse_timestamp(log_type.time_value(data))
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
    forwarder = Forwarder.build(Config(config, (sink,)), Parts(checkpoints=MemoryCheckpointStore(), now=NOW))
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
        # As in `settings` above: hundreds of small pages would be paced over minutes at the default
        # budget; the simulator still enforces 1200 per 300 s (tests/unit/test_rate_budget.py tests pacing).
        "FORWARDER_RATE_LIMIT_REQUESTS": "1000000",
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
