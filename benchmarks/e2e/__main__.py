"""`python -m benchmarks.e2e [--quick] [--repeat N]`: run every scenario, print medians and the targets."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.e2e import report
from benchmarks.e2e.processes import ToolFailed, Usage
from benchmarks.e2e.runner import SINKS, Options, peak_rss, rate_limit, throughput
from benchmarks.e2e.scenarios import RateLimitResult


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small runs, ECS only: a smoke run for CI (< 3 min)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each scenario; medians are printed")
    parser.add_argument(
        "--events", type=int, help="events per throughput run (default 100,000; quick 10,000)"
    )
    parser.add_argument(
        "--rss-events", type=int, help="events of the RSS backfill (default 1,000,000; quick 100,000)"
    )
    parser.add_argument(
        "--only",
        choices=["throughput", "rss", "rate-limit"],
        action="append",
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument(
        "--sink",
        choices=list(SINKS),
        action="append",
        help="throughput: only these receivers (repeatable; default all)",
    )
    parser.add_argument(
        "--peers",
        choices=["all", "fair"],
        default="all",
        help="throughput: every peer, or only the same-job comparison (forwarder gzip off and on, "
        "syslog-ng fair, syslog-ng pass-through reference; HEC and _bulk, ECS)",
    )
    parser.add_argument(
        "--rate-time-scale", type=float, default=60.0, help="300 s of rate limit last 300/this s"
    )
    parser.add_argument("--rate-page-size", type=int, default=25, help="per_page of the rate-limit backfill")
    parser.add_argument(
        "--rate-periods", type=int, help="rate-limit periods the backfill needs (default 3; quick 2)"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, inputs)")
    return parser.parse_args(argv)


def options_from(arguments: argparse.Namespace, scratch: Path) -> Options:
    """The sizes of every scenario: those asked for, else the defaults (smaller with ``--quick``)."""
    quick = arguments.quick
    return Options(
        events=arguments.events or (10_000 if quick else 100_000),
        formats=("ecs",) if quick or arguments.peers == "fair" else ("ecs", "ocsf"),
        repeat=arguments.repeat,
        rss_events=arguments.rss_events or (100_000 if quick else 1_000_000),
        rss_repeat=1 if quick else arguments.repeat,
        rate_periods=arguments.rate_periods or (2 if quick else 3),
        rate_time_scale=arguments.rate_time_scale,
        rate_page_size=arguments.rate_page_size,
        rate_repeat=1 if quick else arguments.repeat,
        scratch=scratch,
        sinks=tuple(arguments.sink or SINKS),
        peers=arguments.peers,
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse(argv)
    quick = arguments.quick
    scenarios = set(arguments.only or ["throughput", "rss", "rate-limit"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as temporary:
        scratch = arguments.keep or Path(temporary)
        (scratch / "logs").mkdir(parents=True, exist_ok=True)
        options = options_from(arguments, scratch)
        print(f"# End-to-end benchmark ({'quick' if quick else 'full'}), python {platform.python_version()}")
        rows: list[report.Row] = []
        rss: list[tuple[int, Usage]] = []
        rates: list[RateLimitResult] = []
        failures = 0
        # Each scenario prints (and saves) its results as soon as it ends: one failing later loses nothing.
        try:
            if "throughput" in scenarios:
                rows, counts = throughput(options)
                print(f"events per run: {counts}")
                print(f"\n## (a) Throughput, median of {options.repeat}\n\n{report.throughput_table(rows)}")
                print(f"\n### The same job: forwarder ÷ syslog-ng fair\n\n{report.fair_table(rows)}")
                print(f"\n### Start-up costs subtracted\n\n{report.startup_table(rows)}", flush=True)
        except ToolFailed as error:
            failures += 1
            print(f"\n## (a) Throughput FAILED: {error}", flush=True)
        save(arguments.json, rows, rss, rates)
        try:
            if "rss" in scenarios:
                rss = peak_rss(options)
                print(
                    f"\n## (b) Peak RSS of the forwarder during a backfill\n\n{report.rss_table(rss)}",
                    flush=True,
                )
        except ToolFailed as error:
            failures += 1
            print(f"\n## (b) Peak RSS FAILED: {error}", flush=True)
        save(arguments.json, rows, rss, rates)
        try:
            if "rate-limit" in scenarios:
                rates = rate_limit(options)
                print(
                    "\n## (c) Backfill under the rate limit (1200 requests / 300 s)\n\n"
                    + report.rate_table(rates)
                )
        except ToolFailed as error:
            failures += 1
            print(f"\n## (c) Rate limit FAILED: {error}", flush=True)
        save(arguments.json, rows, rss, rates)
    print(f"\n## Targets\n\n{report.targets(rows, rss, rates)}")
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 1 if failures else 0


def save(
    path: Path | None, rows: list[report.Row], rss: list[tuple[int, Usage]], rates: list[RateLimitResult]
) -> None:
    if path is not None:
        path.write_text(json.dumps(report.as_json(rows, rss, rates), indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
