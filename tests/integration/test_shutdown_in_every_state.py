"""One SIGTERM stops the process with exit 0 in every state, within the grace period and a moment.

Each test puts a real `run` or `once` in one state (start-up probe, Cloudflare unreachable, a sink
refusing connections, a sink retrying, a backfill, a leader, a standby), sends SIGTERM, and
waits. Before this was fixed the first signal was ignored in several of them for minutes. The
bound asserted is the grace period plus a few seconds: a liveness bound on a shared CI machine,
not a measurement of speed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.faults import Fault
from tests.support.cluster import Cluster, wait_for
from tests.support.forwarder_runs import backfill_env, cli_env, simulator_config

GRACE = 2.0
# Python's start, the last log lines, closing the sinks: slack for a loaded machine.
SLACK = 4.0

pytestmark = pytest.mark.timeout(120)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_and_time(process: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], what: str) -> str:
    """Wait until ``ready``, SIGTERM once, and return everything the process logged."""
    deadline = time.monotonic() + 60
    while not ready():
        assert process.poll() is None, f"exited {process.returncode} before {what}: {read(log)[-3000:]}"
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.05)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=GRACE + 60)
    elapsed = time.monotonic() - sent
    text = read(log)
    assert process.returncode == 0, text[-3000:]
    assert elapsed < GRACE + SLACK, f"took {elapsed:.1f} s to stop ({what})"
    return text


def read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def logged(log: Path, words: str) -> Callable[[], bool]:
    return lambda: words in read(log)


def with_log(env: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], Path]:
    return {**env, "FORWARDER_SHUTDOWN_GRACE": str(GRACE), "FORWARDER_LOG_FORMAT": "text"}, tmp_path / "log"


def start(env: dict[str, str], log: Path, command: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "forwarder", command],
            env={"PATH": os.environ["PATH"], **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize("command", ["run", "once"])
def test_during_the_start_up_probe(command: str, tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        simulator.add_fault(Fault.slow(60, count=None))
        env, log = with_log(cli_env(simulator.base_url, tmp_path), tmp_path)
        process = start(env, log, command)
        stop_and_time(process, log, logged(log, "starting"), "the start-up probe")
    assert "stopped during start-up" in log.read_text()


@pytest.mark.parametrize("command", ["run", "once"])
def test_while_cloudflare_is_unreachable(command: str, tmp_path: Path) -> None:
    env, log = with_log(cli_env(f"http://127.0.0.1:{closed_port()}/client/v4", tmp_path), tmp_path)
    process = start(env, log, command)
    stop_and_time(process, log, logged(log, "Cloudflare request failed, retrying"), "a Cloudflare retry")


@pytest.mark.parametrize("command", ["run", "once"])
def test_while_a_sink_refuses_connections(command: str, tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=2)) as simulator:
        env = backfill_env(
            simulator.base_url,
            tmp_path,
            2,
            FORWARDER_SINKS="splunk_hec",
            FORWARDER_SPLUNK_HEC__URL=f"http://127.0.0.1:{closed_port()}",
            FORWARDER_SPLUNK_HEC__TOKEN="11111111-2222-3333-4444-555555555555",
            FORWARDER_SPLUNK_HEC__MAX_INFLIGHT_EVENTS="100",
        )
        env, log = with_log(env, tmp_path)
        process = start(env, log, command)
        text = stop_and_time(process, log, logged(log, "sink failing, retrying"), "a sink retry")
    # Nothing read can be committed while the sink takes nothing: reading ends, the process exits.
    assert "stopping: reading ended" in text


def test_while_a_sink_retries_in_run(tmp_path: Path) -> None:
    """The sink answers 503 (server busy) to everything: retrying, not refusing."""
    from fakes.splunk_hec_faults import busy
    from tests.support.hec import HEC_TOKEN, splunk_hec

    with SimulatorThread(simulator_config(hours=1)) as simulator, splunk_hec() as hec:
        hec.call(lambda fake: fake.inject(*[busy()] * 10_000))
        env = backfill_env(
            simulator.base_url,
            tmp_path,
            1,
            FORWARDER_SINKS="splunk_hec",
            FORWARDER_SPLUNK_HEC__URL=hec.fake.url,
            FORWARDER_SPLUNK_HEC__TOKEN=HEC_TOKEN,
        )
        env, log = with_log(env, tmp_path)
        process = start(env, log, "run")
        stop_and_time(process, log, logged(log, "sink failing, retrying"), "a sink retry")


def test_in_the_middle_of_a_backfill(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=12)) as simulator:
        simulator.add_fault(Fault.slow(0.05, count=None))
        env, log = with_log(backfill_env(simulator.base_url, tmp_path, 12), tmp_path)
        process = start(env, log, "run")
        checkpoints = tmp_path / "checkpoints.json"
        text = stop_and_time(process, log, checkpoints.exists, "the first commit")
    assert "stopping: reading ended" in text


def test_a_leader_stops_reading_at_once_and_a_standby_stops_too(cluster: Cluster) -> None:
    first = cluster.start(1, FORWARDER_SHUTDOWN_GRACE=str(GRACE))
    leader = cluster.leader()
    assert leader is first
    second = cluster.start(2, FORWARDER_SHUTDOWN_GRACE=str(GRACE))
    wait_for(lambda: "starting" in second.log, "the standby to start", processes=cluster.replicas)
    # The standby first: it reads nothing, and leaves at once.
    started = time.monotonic()
    assert second.stop() == 0
    assert time.monotonic() - started < GRACE + SLACK
    wait_for(lambda: cluster.cloudflare_requests(leader), "the leader to read", processes=[leader])
    asked = len(cluster.cloudflare_requests(leader))
    started = time.monotonic()
    assert leader.stop() == 0
    assert time.monotonic() - started < GRACE + SLACK
    assert "stopping: reading ended" in leader.log
    # Reading stopped at once: at most the requests already on their way (a page and its prefetch).
    assert len(cluster.cloudflare_requests(leader)) - asked <= 2
