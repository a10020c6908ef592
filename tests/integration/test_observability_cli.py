"""The command line's logs and endpoints, as a container runs it: a subprocess against the simulator."""

from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.config import DEFAULT_TOKEN
from fakes.cloudflare.faults import Fault
from tests.support.forwarder_runs import cli, cli_env, simulator_config


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_once_logs_json_lines_on_stdout_with_trace_ids_and_no_secret(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        simulator.add_fault(Fault.server_error(status=503, count=2))
        env = cli_env(simulator.base_url, tmp_path, FORWARDER_START_AT="1h", FORWARDER_HEALTH_PORT="0")
        process = cli(env, "once")
        output, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors.decode()
    assert errors == b""
    lines = json_lines(output)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    messages = [line["message"] for line in lines]
    assert messages[:2] == ["starting", "configuration"]
    assert messages[-1] == "caught up"
    settings = lines[1]["settings"]
    assert settings["CLOUDFLARE_API_TOKEN"] == "(set)"
    assert settings["FORWARDER_HEALTH_PORT"] == 0
    retries = [line for line in lines if line["message"] == "Cloudflare request failed, retrying"]
    assert len(retries) == 2
    assert all(len(line["trace_id"]) == 32 and len(line["span_id"]) == 16 for line in retries)
    assert DEFAULT_TOKEN.encode() not in output + errors


def test_events_on_stdout_push_the_logs_to_stderr(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        env = cli_env(
            simulator.base_url,
            tmp_path,
            FORWARDER_START_AT="1h",
            FORWARDER_HEALTH_PORT="0",
            FORWARDER_FILE__PATH="-",
        )
        process = cli(env, "once")
        output, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors.decode()
    events = json_lines(output)
    assert len(events) > 100
    assert all("_forwarder" in event and "message" not in event for event in events)
    logs = json_lines(errors)
    assert [line["message"] for line in logs][-1] == "caught up"


def test_text_logs_when_asked(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        env = cli_env(
            simulator.base_url,
            tmp_path,
            FORWARDER_START_AT="1h",
            FORWARDER_HEALTH_PORT="0",
            FORWARDER_LOG_FORMAT="text",
        )
        process = cli(env, "once")
        output, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors.decode()
    first = output.decode().splitlines()[0]
    assert " INFO forwarder: starting version=" in first


def test_a_fatal_error_is_logged_and_also_said_on_stderr(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        env = cli_env(
            simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN="wrong-token", FORWARDER_HEALTH_PORT="0"
        )
        process = cli(env, "once")
        output, errors = process.communicate(timeout=60)
    assert process.returncode == 3
    # One refusal per stream whose probe finished before the first refusal cancelled the others.
    errors_logged = [line for line in json_lines(output) if line["level"] == "ERROR"]
    refusals = [line for line in errors_logged if line["message"] == "Cloudflare refused a request"]
    assert refusals
    assert all("CLOUDFLARE_API_TOKEN was not accepted" in line["reason"] for line in refusals)
    # Then the verify endpoints say why: the token itself is unknown, not short of a permission.
    (verdict,) = [line for line in errors_logged if line not in refusals]
    assert verdict["message"] == "the Cloudflare API token cannot work"
    assert verdict["reason"].startswith("CLOUDFLARE_API_TOKEN is not a token Cloudflare knows")
    said = errors.decode().splitlines()
    assert len(said) == len(refusals) + 1
    assert all(line.startswith("cloudflare-siem-forwarder: ") for line in said)
    assert all("CLOUDFLARE_API_TOKEN was not accepted" in line for line in said[:-1])
    assert said[-1] == f"cloudflare-siem-forwarder: {verdict['reason']}"
    assert b"wrong-token" not in output + errors


def test_run_serves_the_endpoints_on_the_health_port(tmp_path: Path) -> None:
    port = free_port()
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        env = cli_env(
            simulator.base_url,
            tmp_path,
            FORWARDER_START_AT="1h",
            FORWARDER_POLL_INTERVAL="0.5",
            FORWARDER_HEALTH_PORT=str(port),
            FORWARDER_HEALTH_ADDRESS="127.0.0.1",
        )
        process = cli(env, "run")
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            ready = fetch(base + "/readyz")
            while ready[0] != 200 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
                ready = fetch(base + "/readyz")
            health = fetch(base + "/healthz")
            status = fetch(base + "/status")
            # Ready means Cloudflare answered; the first page's events may be counted a moment later.
            metrics = fetch(base + "/metrics")
            while "forwarder_events_fetched_total{" not in metrics[1] and time.monotonic() < deadline:
                time.sleep(0.1)
                metrics = fetch(base + "/metrics")
        finally:
            process.send_signal(signal.SIGTERM)
            output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    assert ready == (200, "ready\n")
    assert health == (200, "ok\n")
    assert status[0] == 200
    assert [sink["name"] for sink in orjson.loads(status[1])["sinks"]] == ["file"]
    assert metrics[0] == 200
    assert "forwarder_events_fetched_total{" in metrics[1]
    serving = [line for line in json_lines(output) if line["message"].startswith("serving /healthz")]
    assert serving[0]["address"] == f"127.0.0.1:{port}"
