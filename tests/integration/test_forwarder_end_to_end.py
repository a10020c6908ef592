"""The real forwarder against the Cloudflare simulator over real sockets: nothing lost, ever.

In-process runs for the fault cases (fast, and the simulator's ground truth is at hand); the CLI as
a subprocess for exit codes, messages and a SIGKILL in the middle of a backfill.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.clock import ManualClock
from fakes.cloudflare.config import (
    AUDIT_LOGS_READ,
    Credential,
)
from fakes.cloudflare.faults import Fault
from fakes.cloudflare.server import Simulator
from tests.support.forwarder_runs import (
    ACCOUNT,
    LOG_TYPES,
    NOW,
    assert_nothing_lost,
    backfill_env,
    cli,
    cli_env,
    dead_lettered,
    describe,
    expected_ids,
    output_ids,
    run_once,
    settings,
    simulator_config,
)


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
    # Records without a time sit at the simulator's "now"; windows end on whole seconds, so that
    # "now" is two seconds behind the forwarder's clock rather than waited out.
    clock = ManualClock(time.time() - 2)
    simulator = Simulator(simulator_config(hours=1, access_per_minute=0, scim_per_minute=0), clock=clock)
    moment = (NOW - timedelta(minutes=30)).isoformat()
    simulator.add_records(
        ACCOUNT, "access_requests", [{}, {"created_at": moment}, {"ray_id": None, "allowed": None}]
    )
    idp = simulator.scim_provider_ids(ACCOUNT)[0]
    simulator.add_records(ACCOUNT, "scim_updates", [{"idp_id": idp}, {"idp_id": idp, "logged_at": moment}])
    _, output, _ = await run_once(simulator, tmp_path, hours=1, settle_delay=0)
    lines = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert len(lines) == 5
    assert {line["_forwarder"]["log_type"] for line in lines} == {"access_requests", "scim_updates"}


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
    # The token, the two streams, the sink.
    assert len(lines) == 4
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
