"""The simulator outside an event loop: in a background thread, and as ``python -m fakes.cloudflare``."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fakes.cloudflare import ACCESS_REQUESTS, DEFAULT_TOKEN, Fault, SimulatorConfig, SimulatorThread

pytestmark = pytest.mark.integration

ACCOUNT = "0123456789abcdef0123456789abcdef"
END = datetime(2026, 1, 1, tzinfo=UTC)


def test_thread_serves_a_synchronous_client() -> None:
    config = SimulatorConfig(accounts=[ACCOUNT], start=END - timedelta(minutes=30), end=END)
    with SimulatorThread(config) as running:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=running.base_url, headers=headers) as client:
            path = f"/accounts/{ACCOUNT}/access/logs/access_requests"
            result = client.get(path, params={"per_page": 1000}).json()["result"]
            assert result == running.records(ACCOUNT, ACCESS_REQUESTS)[::-1]
            running.add_fault(Fault.server_error(503))
            assert client.get(path).status_code == 503
            record = {"created_at": "2025-12-31T23:59:59.9Z", "ray_id": "abcdefabcdefabcd"}
            assert running.add_records(ACCOUNT, ACCESS_REQUESTS, [record]) == 1
            assert client.get(path, params={"per_page": 1}).json()["result"] == [record]
            assert running.call(lambda simulator: len(simulator.requests)) == 3
            assert running.violations() == []
            assert running.stats().responses_by_status[503] == 1


def test_thread_hands_errors_back_to_the_caller() -> None:
    with SimulatorThread(SimulatorConfig(accounts=[ACCOUNT])) as running, pytest.raises(KeyError):
        running.records("0" * 32, ACCESS_REQUESTS)


def test_runs_standalone_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "fakes.cloudflare",
        "--accounts",
        ACCOUNT,
        "--hours",
        "1",
        "--seed",
        "5",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        assert lines["token"] == DEFAULT_TOKEN
        headers = {"Authorization": f"Bearer {lines['token']}"}
        response = httpx.get(
            f"{lines['base_url']}/accounts/{ACCOUNT}/access/identity_providers", headers=headers
        )
        assert response.status_code == 200
        assert httpx.get(f"{lines['control_url']}/stats").json()["requests_by_endpoint"] == {
            "identity_providers": 1
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0


def test_standalone_refuses_a_bad_account() -> None:
    command = [sys.executable, "-m", "fakes.cloudflare", "--accounts", "not-an-account"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 2
    assert "not 32 lowercase hex characters" in finished.stderr
