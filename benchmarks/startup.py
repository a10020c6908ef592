"""Start-up cost of ``cloudflare-siem-forwarder once`` with nothing to do, as a CronJob pays it each time.

Run from the repository root (results and the command are written down in STARTUP_RESULTS.md):

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.startup [--runs 10] [--before /path/to/old/tree]

The Cloudflare simulator (``python -m fakes.cloudflare``, an hour of history that ends three minutes ago) runs
in a process of its own, and the fake Splunk HEC on a thread of this process: neither shares the
measured process. For each configuration, ``once`` first catches up from an hour back (not counted),
then runs ``--runs`` times with nothing new to read (each run still asks Cloudflare for the few seconds
that passed, one page per stream). Each run's cost is the child's CPU time, user + sys, from
``os.wait4`` (its own rusage, nothing of this process).

Configurations:

* ``file``: the file sink (ECS, the default format), checkpoint file, health port 0 (no endpoints, no
  Prometheus), no OTLP: the smallest ``once``.
* ``hec``: what a CronJob gets from the defaults: the Splunk HEC sink (no acknowledgement), the
  checkpoint file, the health endpoints and Prometheus ``/metrics`` served (the default port 8080 is
  replaced by a free one, so that runs on a shared machine do not collide), no OTLP.
* ``hec-no-endpoints``: ``hec`` with FORWARDER_HEALTH_PORT=0, as a CronJob can run it (nothing probes a
  Job, and Prometheus rarely scrapes a pod that lives a second).

``--before DIR`` runs a second tree (a directory holding a ``forwarder`` package, e.g. ``git archive``
of an older commit) interleaved with this one, run for run, so that both see the same machine load.
The last lines are ``python -X importtime`` of one more run per tree: the slowest imports.

``--breakdown N`` runs ``once`` N more times on this tree in a child that first imports, in order,
what every run needs (the standard library's asyncio, pydantic and its first model, pydantic-settings,
httpx, OpenTelemetry's tracer, ...), then the forwarder's modules, then runs ``main(["once"])``: the
CPU seconds of each part (``time.process_time``), median of the N runs. Where the time goes, and what
no laziness of ours can remove.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fakes.splunk_hec import FakeHec, HecToken
from fakes.threaded import ThreadedFake

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "simulator-token-0000000000000000000000000"
HEC_TOKEN = "00000000-0000-4000-8000-000000000001"
CONFIGURATIONS = ("file", "hec", "hec-no-endpoints")


# What the breakdown child imports, part by part, before the forwarder's own modules.
PARTS = (
    ("standard library: asyncio, ssl, socket, logging", ("asyncio", "ssl", "socket", "logging", "json")),
    ("pydantic (import)", ("pydantic",)),
    ("pydantic: its first model (schema machinery)", ()),
    ("pydantic-settings", ("pydantic_settings",)),
    ("httpx, httpcore, h11, anyio", ("httpx", "httpcore", "h11", "anyio", "anyio._backends._asyncio")),
    ("opentelemetry API and SDK tracer", ("opentelemetry.sdk.trace", "opentelemetry.sdk.resources")),
    ("orjson, tenacity, truststore", ("orjson", "tenacity", "truststore")),
)
SINK_MODULES = {
    "file": "forwarder.sinks.file",
    "hec": "forwarder.sinks.splunk_hec",
    "hec-no-endpoints": "forwarder.sinks.splunk_hec",
}
BREAKDOWN = """
import importlib, json, sys, time
marks = [("interpreter and site", time.process_time())]
for name, modules in json.loads(sys.argv[1]):
    started = time.process_time()
    for module in modules:
        importlib.import_module(module)
    if not modules:  # pydantic's first model: building it imports and sets up the schema machinery
        from pydantic import BaseModel, Field
        type("First", (BaseModel,), {"__annotations__": {"value": int}, "value": Field(default=1, ge=0)})
    marks.append((name, time.process_time() - started))
started = time.process_time()
for module in sys.argv[2:]:
    importlib.import_module(module)
marks.append(("the forwarder's modules (and their pydantic models)", time.process_time() - started))
from forwarder.cli import main
started = time.process_time()
code = main(["once"])
marks.append(("main(['once']): settings, build, probe, read, exit", time.process_time() - started))
print(json.dumps({"code": code, "marks": marks}))
"""


@dataclass
class Series:
    """The runs of one configuration on one tree."""

    tree: Path
    configuration: str
    directory: Path
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.configuration} @ {self.tree}"


@contextmanager
def simulator(hours: float) -> Iterator[str]:
    """The Cloudflare simulator in its own process; yields its base URL."""
    process = subprocess.Popen(
        # History ends three minutes ago, before the default settle delay (60 s): nothing new settles.
        [sys.executable, "-m", "fakes.cloudflare", "--hours", str(hours), "--future-hours", "-0.05"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("base_url="):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield line.removeprefix("base_url=")
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(series: Series, base_url: str, hec_url: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(series.tree),
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_API_BASE_URL": base_url,
        "FORWARDER_ACCOUNT_IDS": ACCOUNT,
        "FORWARDER_START_AT": "1h",
        "FORWARDER_CHECKPOINT_PATH": str(series.directory / "checkpoints.json"),
        "FORWARDER_DEAD_LETTER_PATH": str(series.directory / "dead-letters.ndjson"),
    }
    if series.configuration == "file":
        return env | {
            "FORWARDER_SINKS": "file",
            "FORWARDER_FILE__PATH": str(series.directory / "events.ndjson"),
            "FORWARDER_HEALTH_PORT": "0",
        }
    served = series.configuration == "hec"
    return env | {
        "FORWARDER_SINKS": "splunk_hec",
        "FORWARDER_SPLUNK_HEC__URL": hec_url,
        "FORWARDER_SPLUNK_HEC__TOKEN": HEC_TOKEN,
        "FORWARDER_HEALTH_PORT": str(free_port()) if served else "0",
    }


def run_once(env: Mapping[str, str], directory: Path, *flags: str) -> tuple[float, float, str, str]:
    """One ``once`` in a child process: its CPU seconds (user + sys), wall seconds, stdout and stderr."""
    out, err = directory / "stdout.log", directory / "stderr.log"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, *flags, "-m", "forwarder", "once"],
            env=env,
            cwd=directory,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    stdout_text, stderr_text = out.read_text(), err.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"once exited {process.returncode}:\n{stderr_text}\n{stdout_text[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, stdout_text, stderr_text


def events_read(stdout: str) -> int:
    """The events of the run's "caught up" line: a run with nothing to do reads none."""
    for line in reversed(stdout.splitlines()):
        entry = json.loads(line)
        if entry.get("message") == "caught up":
            return sum(entry["events"].values())
    raise RuntimeError(f"no 'caught up' line:\n{stdout[-2000:]}")


def import_times(stderr: str, top: int) -> list[str]:
    """The slowest imports of one run: by cumulative time, and by package (self time summed)."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(own), int(cumulative), name.rstrip()))
    packages: Counter[str] = Counter()
    for own, _, name in rows:
        packages[name.strip().split(".")[0]] += own
    total = sum(own for own, _, _ in rows)
    lines = [f"  all imports: {total / 1000:.1f} ms (importtime's own clock, inflated by its bookkeeping)"]
    lines.append("  by package (self time summed):")
    lines.extend(f"    {own / 1000:7.1f} ms  {name}" for name, own in packages.most_common(top))
    lines.append("  by module (cumulative):")
    by_cumulative = sorted(rows, key=lambda row: row[1], reverse=True)[:top]
    lines.extend(f"    {cumulative / 1000:7.1f} ms  {name.strip()}" for _, cumulative, name in by_cumulative)
    return lines


def measure(all_series: list[Series], runs: int, base_url: str, hec_url: str) -> None:
    for series in all_series:
        env = environment(series, base_url, hec_url)
        cpu, _, stdout, _ = run_once(env, series.directory)
        print(f"catch-up {series.label}: {events_read(stdout)} events, {cpu:.3f} CPU-s", flush=True)
    for number in range(runs):
        # Interleaved: each round runs every series once, so that a load change hits all of them.
        for series in all_series:
            env = environment(series, base_url, hec_url)
            cpu, wall, stdout, _ = run_once(env, series.directory)
            if events_read(stdout) != 0:
                raise RuntimeError(f"{series.label}: run {number} had something to do")
            series.cpu.append(cpu)
            series.wall.append(wall)


def report(all_series: list[Series], importtime_top: int, base_url: str, hec_url: str) -> None:
    print(f"\nload average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    for series in all_series:
        runs = " ".join(f"{value:.3f}" for value in series.cpu)
        print(
            f"{series.label}: median {statistics.median(series.cpu):.3f} CPU-s "
            f"(min {min(series.cpu):.3f}), wall median {statistics.median(series.wall):.3f} s; runs: {runs}"
        )
    if importtime_top:
        for series in all_series:
            env = environment(series, base_url, hec_url)
            cpu, _, _, stderr = run_once(env, series.directory, "-X", "importtime")
            print(f"\npython -X importtime, {series.label} ({cpu:.3f} CPU-s with importtime on):")
            print("\n".join(import_times(stderr, importtime_top)))


def breakdown(series: Series, runs: int, base_url: str, hec_url: str) -> None:
    """The CPU seconds of each part of a ``once`` with nothing to do, median of ``runs``."""
    env = environment(series, base_url, hec_url)
    modules = [
        "forwarder.cli",
        "forwarder.app",
        "forwarder.telemetry.exporters",
        SINK_MODULES[series.configuration],
    ]
    if series.configuration == "hec":
        modules.append("forwarder.telemetry.health")
    parts: dict[str, list[float]] = {}
    totals = []
    for _ in range(runs):
        command = [sys.executable, "-c", BREAKDOWN, json.dumps(PARTS), *modules]
        out = series.directory / "breakdown.log"
        with out.open("wb") as stdout:
            process = subprocess.Popen(command, env=env, cwd=series.directory, stdout=stdout)
            _, status, usage = os.wait4(process.pid, 0)
        result = json.loads(out.read_text().splitlines()[-1])
        if os.waitstatus_to_exitcode(status) != 0 or result["code"] != 0:
            raise RuntimeError(f"breakdown run failed: {result}")
        for name, seconds in result["marks"]:
            parts.setdefault(name, []).append(seconds)
        totals.append(usage.ru_utime + usage.ru_stime)
    print(f"\nwhere the CPU goes, {series.label}, median of {runs} runs (process_time, ms):")
    for name, values in parts.items():
        print(f"  {statistics.median(values) * 1000:7.1f}  {name}")
    print(f"  {statistics.median(totals) * 1000:7.1f}  the whole process (rusage, includes exit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs with nothing to do, per configuration")
    parser.add_argument("--configuration", choices=CONFIGURATIONS, action="append", help="default: all")
    parser.add_argument("--before", type=Path, help="another tree, run interleaved with this one")
    parser.add_argument("--importtime-top", type=int, default=12, help="0: no importtime run")
    parser.add_argument("--breakdown", type=int, default=0, help="runs of the per-part breakdown (0: none)")
    arguments = parser.parse_args()
    trees = [ROOT, *([arguments.before.resolve()] if arguments.before else [])]
    configurations = arguments.configuration or list(CONFIGURATIONS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average before: {os.getloadavg()}")
    hec = FakeHec([HecToken(HEC_TOKEN)], keep=False)
    with (
        tempfile.TemporaryDirectory() as scratch,
        simulator(hours=1.0) as base_url,
        ThreadedFake(hec, FakeHec.start, FakeHec.close) as hec_fake,
    ):
        all_series = []
        for index, (configuration, tree) in enumerate((c, t) for c in configurations for t in trees):
            directory = Path(scratch) / str(index)
            directory.mkdir()
            all_series.append(Series(tree, configuration, directory))
        measure(all_series, arguments.runs, base_url, str(hec_fake.started))
        report(all_series, arguments.importtime_top, base_url, str(hec_fake.started))
        for series in all_series:
            if arguments.breakdown and series.tree == ROOT:
                breakdown(series, arguments.breakdown, base_url, str(hec_fake.started))


if __name__ == "__main__":
    main()
