"""The run: the events prepared, then every tool on every receiver, runs interleaved; RSS; rate limit."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.e2e import report
from benchmarks.e2e.processes import HEC_TOKEN, ToolFailed, Usage, run_measured
from benchmarks.e2e.receivers import Kind, Receiver, count_lines
from benchmarks.e2e.scenarios import (
    ACCOUNT,
    CLI,
    Dataset,
    RateLimitResult,
    forwarder_env,
    rate_limited_backfill,
    run_forwarder,
    simulator,
    write_raw_records,
)
from benchmarks.e2e.syslog_ng import run_configured, run_syslog_ng
from fakes.cloudflare.background import SimulatorThread
from tests.support.syslog_ng_fair import config as fair_config

ROOT = Path(__file__).resolve().parents[2]
# The pass-through rows splice lines the forwarder already mapped: a reference, not the same job.
SYSLOG_NG_PASS_THROUGH = "syslog-ng pass-through, reference: splices already-mapped lines, not the same job"
SYSLOG_NG_EVENT_TIME = "syslog-ng pass-through with the event time (json-parser), reference: not the same job"
# The same job: raw API records in, the forwarder's ECS fields out (tests/support/syslog_ng_fair.py).
SYSLOG_NG_FAIR = report.FAIR_TOOL
SINKS: tuple[Kind, ...] = ("splunk_hec", "elasticsearch", "syslog", "file")
# (receiver, or None for the ceiling; events expected) -> usage
Runner = Callable[[Receiver | None, int], Usage]


@dataclass(frozen=True)
class Options:
    events: int
    formats: tuple[str, ...]
    repeat: int
    rss_events: int
    rss_repeat: int
    rate_periods: int
    rate_time_scale: float
    rate_page_size: int
    rate_repeat: int
    scratch: Path
    sinks: tuple[Kind, ...] = SINKS
    # "all": every peer; "fair": the forwarder (gzip off and on), syslog-ng fair and its pass-through.
    peers: str = "all"


@dataclass
class Job:
    row: report.Row
    receiver: Kind | None
    run: Runner
    # Runs of the same start-up key share one start-up measurement per repetition.
    startup_key: str
    empty: Runner


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Harness:
    def __init__(
        self, options: Options, full: SimulatorThread, empty: SimulatorThread, data: Dataset
    ) -> None:
        self.options = options
        self.full = full
        self.empty = empty
        self.data = data
        self.empty_data = Dataset(0, data.end, data.hours)
        self.scratch = options.scratch
        self.logs = options.scratch / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.scratch / "empty.ndjson").write_bytes(b"")

    # --- inputs ------------------------------------------------------------------------------

    def prepare(self) -> dict[str, int]:
        """The raw records (the ceiling's input) and, per format, the forwarder's own output (the peers')."""
        counts = {"raw": write_raw_records(self.full, self.scratch / "raw.ndjson")}
        # `_bulk` keeps one document per `_id`: the fair peer's id is the md5 of the line.
        counts["raw-distinct"] = len(set((self.scratch / "raw.ndjson").read_bytes().splitlines()))
        for fmt in self.options.formats:
            receiver = Receiver("file", self.scratch)
            try:
                env = forwarder_env(self.full.base_url, self.data, receiver, fmt, self.scratch)
                run_measured(
                    [str(CLI), "once"],
                    env,
                    self.logs / "prepare.log",
                    timeout=900,
                )
                shutil.copy(receiver.path, self.scratch / f"{fmt}.ndjson")
                counts[fmt] = count_lines(self.scratch / f"{fmt}.ndjson")
            finally:
                receiver.stop()
        return counts

    # --- the tools ---------------------------------------------------------------------------

    def forwarder(self, fmt: str, *, gzip: bool = False) -> tuple[Runner, Runner]:
        def run(receiver: Receiver | None, expected: int) -> Usage:
            assert receiver is not None
            env = forwarder_env(self.full.base_url, self.data, receiver, fmt, self.scratch, gzip=gzip)
            return run_forwarder(env, receiver, expected, self.logs / f"forwarder-{receiver.kind}.log")

        def empty(receiver: Receiver | None, _: int) -> Usage:
            assert receiver is not None
            env = forwarder_env(self.empty.base_url, self.empty_data, receiver, fmt, self.scratch, gzip=gzip)
            return run_forwarder(env, receiver, 0, self.logs / f"forwarder-{receiver.kind}.log")

        return run, empty

    def python_peer(self, peer: str, fmt: str) -> tuple[Runner, Runner]:
        def run_with(source: Path, receiver: Receiver | None, expected: int) -> Usage:
            command = [sys.executable, "-m", "benchmarks.e2e.peers", peer, "--input", str(source)]
            command += ["--format", fmt, "--token", HEC_TOKEN]
            if receiver is not None:
                command += ["--url", receiver.url]
            env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
            done = (lambda: receiver.count() >= expected) if receiver is not None else None
            usage = run_measured(command, env, self.logs / f"{peer}.log", timeout=900, done=done)
            if receiver is not None and receiver.count() != expected:
                raise ToolFailed(f"{peer}: {receiver.count()} of {expected} events arrived")
            return usage

        source = self.scratch / ("raw.ndjson" if peer == "ceiling" else f"{fmt}.ndjson")
        return (
            lambda receiver, expected: run_with(source, receiver, expected),
            lambda receiver, _: run_with(self.scratch / "empty.ndjson", receiver, 0),
        )

    def syslog_ng(self, fmt: str, *, event_time: bool = False) -> tuple[Runner, Runner]:
        folder = self.scratch / "syslog-ng"

        def run(receiver: Receiver | None, expected: int) -> Usage:
            assert receiver is not None
            source = self.scratch / f"{fmt}.ndjson"
            return run_syslog_ng(source, receiver, fmt, expected, folder, event_time=event_time)

        def empty(receiver: Receiver | None, _: int) -> Usage:
            assert receiver is not None
            source = self.scratch / "empty.ndjson"
            return run_syslog_ng(source, receiver, fmt, 0, folder, event_time=event_time)

        return run, empty

    def syslog_ng_fair(self) -> tuple[Runner, Runner]:
        folder = self.scratch / "syslog-ng-fair"

        def run_with(source: Path, receiver: Receiver | None, expected: int) -> Usage:
            assert receiver is not None
            text = fair_config(source, receiver, ACCOUNT, HEC_TOKEN)
            return run_configured(text, receiver, expected, folder)

        return (
            lambda receiver, expected: run_with(self.scratch / "raw.ndjson", receiver, expected),
            lambda receiver, _: run_with(self.scratch / "empty.ndjson", receiver, 0),
        )

    def jobs(self, counts: dict[str, int]) -> list[Job]:
        jobs: list[Job] = []

        def add(
            sink: Kind, tool: str, fmt: str, runners: tuple[Runner, Runner], key: str, events: int = 0
        ) -> None:
            row = report.Row(sink, tool, fmt, events or counts[fmt])
            jobs.append(Job(row, sink, runners[0], key, runners[1]))

        fair_only = self.options.peers == "fair"
        for sink in self.options.sinks:
            for fmt in self.options.formats:
                if fair_only and (sink not in ("splunk_hec", "elasticsearch") or fmt != "ecs"):
                    continue
                add(sink, "forwarder", fmt, self.forwarder(fmt), f"forwarder-{sink}")
                if sink in ("splunk_hec", "elasticsearch") and fmt == "ecs":
                    runners = self.forwarder(fmt, gzip=True)
                    add(sink, "forwarder, gzip on (default)", fmt, runners, f"forwarder-{sink}-gzip")
                    expected = counts["raw-distinct" if sink == "elasticsearch" else "raw"]
                    add(sink, SYSLOG_NG_FAIR, fmt, self.syslog_ng_fair(), f"syslog-ng-fair-{sink}", expected)
                if fair_only:
                    add(sink, SYSLOG_NG_PASS_THROUGH, fmt, self.syslog_ng(fmt), f"syslog-ng-{sink}")
                    continue
                if sink == "elasticsearch":
                    add(sink, "elasticsearch-py streaming_bulk", fmt, self.python_peer("espy", fmt), "espy")
                    runners = self.python_peer("espy-async", fmt)
                    add(sink, "elasticsearch-py async_streaming_bulk", fmt, runners, "espy-async")
                    runners = self.python_peer("plain-bulk", fmt)
                    add(sink, "plain Python (json + httpx)", fmt, runners, "plain-bulk")
                if sink == "splunk_hec":
                    runners = self.python_peer("plain-hec", fmt)
                    add(sink, "plain Python (json + httpx)", fmt, runners, "plain-hec")
                if sink in ("splunk_hec", "elasticsearch"):
                    add(sink, SYSLOG_NG_PASS_THROUGH, fmt, self.syslog_ng(fmt), f"syslog-ng-{sink}")
                elif sink == "syslog":
                    add(sink, "syslog-ng", fmt, self.syslog_ng(fmt), f"syslog-ng-{sink}")
                if sink == "splunk_hec":
                    runners = self.syslog_ng(fmt, event_time=True)
                    add(sink, SYSLOG_NG_EVENT_TIME, fmt, runners, f"syslog-ng-{sink}-time")
        if fair_only:
            return jobs
        ceiling = report.Row("none", "ceiling: orjson.loads + orjson.dumps", "raw", counts["raw"])
        run, empty = self.python_peer("ceiling", "ecs")
        jobs.append(Job(ceiling, None, run, "ceiling", empty))
        return jobs

    def run_jobs(self, jobs: list[Job]) -> list[report.Row]:
        startups: dict[str, list[Usage]] = {}
        for repetition in range(1, self.options.repeat + 1):
            measured: set[str] = set()
            for job in jobs:
                if job.startup_key not in measured:
                    measured.add(job.startup_key)
                    usage = self.once(job, job.empty, 0)
                    startups.setdefault(job.startup_key, []).append(usage)
                usage = self.once(job, job.run, job.row.events)
                job.row.runs.append(usage)
                row = job.row
                progress(
                    f"[{repetition}/{self.options.repeat}] {row.tool} -> {row.sink} ({row.fmt}): "
                    f"{row.events / max(usage.cpu - startups[job.startup_key][-1].cpu, 1e-9):,.0f} "
                    "events/s per core, "
                    f"{usage.wall:.1f} s"
                )
        for job in jobs:
            job.row.startup = startups[job.startup_key]
        return [job.row for job in jobs]

    def once(self, job: Job, runner: Runner, expected: int) -> Usage:
        receiver = Receiver(job.receiver, self.scratch) if job.receiver is not None else None
        try:
            return runner(receiver, expected)
        finally:
            if receiver is not None:
                receiver.stop()


def throughput(options: Options) -> tuple[list[report.Row], dict[str, int]]:
    data = Dataset.ending_now(options.events)
    with simulator(data) as full, simulator(Dataset(0, data.end, data.hours)) as empty:
        harness = Harness(options, full, empty, data)
        started = time.perf_counter()
        counts = harness.prepare()
        progress(f"prepared {counts} in {time.perf_counter() - started:.1f} s")
        rows = harness.run_jobs(harness.jobs(counts))
    return rows, counts


def peak_rss(options: Options) -> list[tuple[int, Usage]]:
    """(b): `once` over a backfill of `rss_events` into the file sink; the kernel's peak RSS of it."""
    data = Dataset.ending_now(options.rss_events)
    runs: list[tuple[int, Usage]] = []
    with simulator(data) as running:
        for repetition in range(1, options.rss_repeat + 1):
            receiver = Receiver("file", options.scratch)
            try:
                env = forwarder_env(running.base_url, data, receiver, "ecs", options.scratch)
                expected = options.rss_events
                usage = run_measured(
                    [str(CLI), "once"],
                    env,
                    options.scratch / "logs" / "rss.log",
                    timeout=1800,
                )
                got = receiver.count()
                # A few records share an event id (identical records): the forwarder writes them once.
                if got < expected * 0.99:
                    raise ToolFailed(f"RSS run: {got} of {expected} events written")
                runs.append((got, usage))
                progress(
                    f"[{repetition}/{options.rss_repeat}] RSS backfill {got:,} events: "
                    f"peak {usage.peak_rss_mb:.1f} MB, {usage.wall:.1f} s"
                )
            finally:
                receiver.stop()
    return runs


def rate_limit(options: Options) -> list[RateLimitResult]:
    results = []
    for repetition in range(1, options.rate_repeat + 1):
        result = rate_limited_backfill(
            options.scratch,
            periods=options.rate_periods,
            time_scale=options.rate_time_scale,
            page_size=options.rate_page_size,
        )
        results.append(result)
        progress(
            f"[{repetition}/{options.rate_repeat}] rate limit: {result.fraction:.1%} of the ceiling, "
            f"{result.too_many_requests} 429s, {result.seconds:.1f} s"
        )
    return results
