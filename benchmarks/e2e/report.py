"""Medians, derived numbers and the tables printed at the end of a run."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from benchmarks.e2e.processes import Usage
from benchmarks.e2e.scenarios import RateLimitResult

# The same job as the forwarder's (raw records in, ECS out): the row the speed targets are judged by.
FAIR_TOOL = "syslog-ng fair (raw records -> ECS)"
# Issue 24: per CPU-second, >= 1.5x the fair peer with gzip off, >= 1.0x with the default gzip.
FAIR_TARGETS = {"forwarder": 1.5, "forwarder, gzip on (default)": 1.0}

SINK_TITLES = {
    "splunk_hec": "Splunk HEC",
    "elasticsearch": "Elasticsearch _bulk",
    "syslog": "syslog (rsyslog, TCP)",
    "file": "file",
    "none": "no network",
}


@dataclass
class Row:
    """Every run of one tool in one configuration, and its start-up cost on empty input."""

    sink: str
    tool: str
    fmt: str
    events: int
    runs: list[Usage] = field(default_factory=list)
    startup: list[Usage] = field(default_factory=list)

    def _startup(self, attribute: str) -> float:
        return statistics.median(getattr(usage, attribute) for usage in self.startup) if self.startup else 0.0

    @property
    def cpu_per_million(self) -> float:
        """CPU seconds per million events, start-up subtracted (median over runs)."""
        base = self._startup("cpu")
        return statistics.median(max(usage.cpu - base, 1e-9) for usage in self.runs) / self.events * 1e6

    @property
    def per_core(self) -> float:
        return 1e6 / self.cpu_per_million

    @property
    def wall_rate(self) -> float:
        base = self._startup("wall")
        return self.events / statistics.median(max(usage.wall - base, 1e-9) for usage in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(usage.peak_rss_mb for usage in self.runs)

    def microseconds_per_event(self) -> list[float]:
        """CPU µs per event of every run, start-up subtracted, in run order."""
        base = self._startup("cpu")
        return [max(usage.cpu - base, 1e-9) / self.events * 1e6 for usage in self.runs]

    def spread(self) -> str:
        base = self._startup("cpu")
        rates = sorted(self.events / max(usage.cpu - base, 1e-9) for usage in self.runs)
        return f"{rates[0]:,.0f}-{rates[-1]:,.0f}"


def throughput_table(rows: Sequence[Row]) -> str:
    forwarder = {(row.sink, row.fmt): row for row in rows if row.tool == "forwarder"}
    lines = [
        "| sink | format | tool | events/s per core | CPU s / 1M events | range per core | events/s wall "
        "| peak RSS MB | forwarder per core ÷ this |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ours = forwarder.get((row.sink, row.fmt))
        ratio = f"{ours.per_core / row.per_core:.2f}x" if ours is not None and row is not ours else ""
        if row.tool == "ceiling":
            ratio = " / ".join(
                f"{fmt} {mine.per_core / row.per_core:.3f}x"
                for (sink, fmt), mine in sorted(forwarder.items())
                if sink == "file"
            )
        lines.append(
            f"| {SINK_TITLES.get(row.sink, row.sink)} | {row.fmt} | {row.tool} | {row.per_core:,.0f} "
            f"| {row.cpu_per_million:.1f} | {row.spread()} | {row.wall_rate:,.0f} "
            f"| {row.peak_rss_mb:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def startup_table(rows: Sequence[Row]) -> str:
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(f"{row.tool} -> {row.sink}", row)
    lines = ["| tool | start-up CPU s (empty input, subtracted) | start-up wall s |", "| --- | ---: | ---: |"]
    for name, row in seen.items():
        if row.startup:
            lines.append(f"| {name} | {row._startup('cpu'):.2f} | {row._startup('wall'):.2f} |")
    return "\n".join(lines)


def rss_table(runs: Sequence[tuple[int, Usage]]) -> str:
    lines = [
        "| events | peak RSS MB (VmHWM) | CPU s | wall s | events/s wall |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for events, usage in runs:
        lines.append(
            f"| {events:,} | {usage.peak_rss_mb:.1f} | {usage.cpu:.1f} | {usage.wall:.1f} "
            f"| {events / usage.wall:,.0f} |"
        )
    peaks = [usage.peak_rss_mb for _, usage in runs]
    lines.append(f"\nmedian peak RSS: {statistics.median(peaks):.1f} MB (max {max(peaks):.1f} MB)")
    return "\n".join(lines)


def rate_table(results: Sequence[RateLimitResult]) -> str:
    lines = [
        "| time scale | period s | page size | requests | best time s | measured s | fraction of ceiling "
        "| 429s | first 1200 requests took s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        lines.append(
            f"| {result.time_scale:g} | {300 / result.time_scale:g} | {result.page_size} | {result.requests} "
            f"| {result.best_seconds:.2f} | {result.seconds:.2f} | {result.fraction:.1%} "
            f"| {result.too_many_requests} | {result.first_budget_seconds:.2f} |"
        )
    fractions = [result.fraction for result in results]
    lines.append(
        f"\nmedian fraction {statistics.median(fractions):.1%}; "
        f"429s received in all runs: {sum(result.too_many_requests for result in results)}"
    )
    return "\n".join(lines)


def fair_table(rows: Sequence[Row]) -> str:
    """Forwarder ÷ syslog-ng fair (the same job), per sink: CPU µs per event of every run, the ratios."""
    index = {(row.sink, row.tool): row for row in rows if row.fmt == "ecs"}
    lines = [
        "| sink | tool | CPU µs / event (median) | every run | forwarder ÷ this, per core | target |",
        "| --- | --- | ---: | --- | ---: | --- |",
    ]
    for sink in ("splunk_hec", "elasticsearch"):
        fair = index.get((sink, FAIR_TOOL))
        if fair is None:
            continue
        for (row_sink, tool), row in index.items():
            if row_sink != sink:
                continue
            runs = ", ".join(f"{value:.1f}" for value in row.microseconds_per_event())
            ratio, target = "", ""
            if tool in FAIR_TARGETS:
                value = row.per_core / fair.per_core
                need = FAIR_TARGETS[tool]
                ratio = f"{value:.2f}x"
                target = f">= {need:g}x: {'met' if value >= need else 'NOT met'}"
            lines.append(
                f"| {SINK_TITLES[sink]} | {tool} | {row.cpu_per_million:.1f} | {runs} | {ratio} | {target} |"
            )
    return "\n".join(lines)


def targets(rows: Sequence[Row], rss: Sequence[tuple[int, Usage]], rates: Sequence[RateLimitResult]) -> str:
    """The issue's targets, met or not, with the numbers they rest on.

    The syslog-ng targets are judged against the fair peer only (the same job); the pass-through
    rows are a reference.
    """
    index = {(row.sink, row.tool, row.fmt): row for row in rows}
    found: dict[str, list[str]] = defaultdict(list)
    for (sink, tool, fmt), row in index.items():
        if tool == "elasticsearch-py streaming_bulk":
            pairs = [("forwarder", 2.0)]
        elif tool == FAIR_TOOL:
            pairs = list(FAIR_TARGETS.items())
        else:
            continue
        for ours_tool, need in pairs:
            ours = index.get((sink, ours_tool, fmt))
            if ours is None:
                continue
            ratio = ours.per_core / row.per_core
            verdict = "met" if ratio >= need else "NOT met"
            found[tool].append(
                f"{SINK_TITLES[sink]} {fmt}, {ours_tool}: {ours.per_core:,.0f}/s per core vs "
                f"{row.per_core:,.0f} = {ratio:.2f}x (target >= {need:g}x): {verdict}"
            )
    lines = [f"- {tool}: " + "; ".join(items) for tool, items in found.items()]
    if rss:
        peak = max(usage.peak_rss_mb for _, usage in rss)
        verdict = "met" if peak < 100 else "NOT met"
        lines.append(
            f"- peak RSS during a {rss[0][0]:,}-event backfill: {peak:.1f} MB (target < 100 MB): {verdict}"
        )
    if rates:
        fraction = statistics.median(result.fraction for result in rates)
        errors = sum(result.too_many_requests for result in rates)
        verdict = "met" if fraction >= 0.95 and errors == 0 else "NOT met"
        lines.append(
            f"- rate limit: {fraction:.1%} of the ceiling, {errors} 429s (target >= 95 %, 0): {verdict}"
        )
    return "\n".join(lines)


def as_json(
    rows: Sequence[Row], rss: Sequence[tuple[int, Usage]], rates: Sequence[RateLimitResult]
) -> dict[str, object]:
    return {
        "throughput": [
            asdict(row)
            | {"per_core": row.per_core, "cpu_per_million": row.cpu_per_million, "wall_rate": row.wall_rate}
            for row in rows
        ],
        "rss": [{"events": events, **asdict(usage)} for events, usage in rss],
        "rate_limit": [asdict(result) | {"fraction": result.fraction} for result in rates],
    }
