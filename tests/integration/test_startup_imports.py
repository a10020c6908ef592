"""`once` imports only what its configuration uses: a CronJob pays for every import at every run.

Each test runs the real command in a subprocess against the simulator and looks at ``sys.modules`` when
it exits. A module in a "must not" list appearing there means someone made an import eager again (the
cost is in benchmarks/STARTUP_RESULTS.md); import it where it is used instead. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.cloudflare.background import SimulatorThread
from tests.support.forwarder_runs import cli_env, simulator_config
from tests.support.hec import HEC_TOKEN, splunk_hec

# Runs `once` as the console script does, then prints every module it imported.
PROBE = """
import json, sys
from forwarder.cli import main
code = main(["once"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

OTHER_SINKS = (
    "forwarder.sinks.elasticsearch",
    "forwarder.sinks.http",
    "forwarder.sinks.otlp",
    "forwarder.sinks.sentinel",
    "forwarder.sinks.syslog",
)
# Used only by the sinks above, an OTLP exporter, or the tests.
THIRD_PARTY = ("azure", "msal", "google.protobuf", "opentelemetry.proto", "requests", "hypothesis", "pytest")
# Leader election (FORWARDER_LEADER_ELECTION) and the ConfigMap checkpoint store only.
KUBERNETES = (
    "forwarder.coordination.api",
    "forwarder.coordination.leader",
    "forwarder.checkpoints.kubernetes",
)
# OTLP export (OTEL_EXPORTER_OTLP_*), and the metrics SDK without a reader (no /metrics, no OTLP).
TELEMETRY_OFF = ("opentelemetry.exporter", "opentelemetry.sdk.metrics", "prometheus_client")
# Other commands.
COMMANDS = ("forwarder.check", "forwarder.demo", "forwarder.map_command", "forwarder.env_reference")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def imported(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [
        name for name in modules if any(name == root or name.startswith(f"{root}.") for root in forbidden)
    ]


def run_once(env: dict[str, str], tmp_path: Path) -> list[str]:
    env = env | {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    # Nothing to read: the run still starts everything, probes the streams and reads up to now.
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stdout
    modules: list[str] = result["modules"]
    return modules


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(simulator_config(hours=0.5)) as running:
        yield running


def test_once_to_a_file_imports_no_other_sink_no_exporter_no_kubernetes(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    modules = run_once(cli_env(simulator.base_url, tmp_path, FORWARDER_START_AT="10m"), tmp_path)
    assert "forwarder.sinks.file" in modules  # the probe saw the run
    assert imported(modules, (*OTHER_SINKS, "forwarder.sinks.splunk_hec")) == []
    assert imported(modules, THIRD_PARTY) == []
    assert imported(modules, KUBERNETES) == []
    assert imported(modules, TELEMETRY_OFF) == []
    # FORWARDER_HEALTH_PORT=0: no endpoints, so no HTTP server either.
    assert imported(modules, ("aiohttp", "forwarder.telemetry.health", "http.server")) == []
    assert imported(modules, COMMANDS) == []


def test_once_with_the_default_endpoints_to_splunk_imports_only_that_sink(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    with splunk_hec() as hec:
        env = cli_env(
            simulator.base_url,
            tmp_path,
            FORWARDER_START_AT="10m",
            FORWARDER_SINKS="splunk_hec",
            FORWARDER_SPLUNK_HEC__URL=str(hec.started),
            FORWARDER_SPLUNK_HEC__TOKEN=HEC_TOKEN,
            FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS="true",
            # Served, as by default, but on a free port: parallel tests must not fight over 8080.
            FORWARDER_HEALTH_PORT=str(free_port()),
        )
        del env["FORWARDER_FILE__PATH"], env["FORWARDER_FILE__FORMAT"]
        modules = run_once(env, tmp_path)
    assert "forwarder.sinks.splunk_hec" in modules
    assert imported(modules, (*OTHER_SINKS, "forwarder.sinks.file")) == []
    assert imported(modules, THIRD_PARTY) == []
    assert imported(modules, KUBERNETES) == []
    assert imported(modules, ("opentelemetry.exporter.otlp",)) == []
    assert imported(modules, COMMANDS) == []
    # The endpoints are served by the standard library: aiohttp's import alone cost 0.13 CPU-s.
    assert "forwarder.telemetry.health" in modules
    assert imported(modules, ("aiohttp",)) == []
