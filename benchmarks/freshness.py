"""Freshness: the delay from a row becoming visible in the Cloudflare API to its sink's acknowledgement.

Run from the repository root (results and the command are written down in FRESHNESS_RESULTS.md)::

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.freshness --settings default --minutes 10
    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.freshness --settings low-latency --minutes 10

The Cloudflare simulator (``fakes.cloudflare``, real clock) produces rows live, a few per second, late
rows included (``DataProfile.late``/``late_max_delay``), and knows when each row became visible: its own
time, or later for a late row. The forwarder runs ``run`` as a real CLI process with its default settings
(except the API URL, token, account and the sink; ``low-latency`` also sets the poll interval and the
settle delay) into the fake Splunk HEC, which stamps each request's events with the moment it answered
200: the acknowledgement the forwarder's checkpoint waits for. Events are matched to rows by event id.

Measured: every row that became visible in the measured minutes (and whose time is not before the
forwarder's start position: the forwarder never reads before where it first started). After them, the
forwarder keeps running until every such row is delivered, or a drain limit passes; rows never delivered
are reported (the product promises 0).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from fakes.cloudflare import ACCESS_REQUESTS, SCIM_UPDATES, DataProfile, SimulatorConfig, SimulatorThread
from fakes.cloudflare.config import DEFAULT_TOKEN
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.server import Simulator
from fakes.splunk_hec import FakeHec, HecToken, ReceivedRequest
from fakes.threaded import ThreadedFake
from forwarder.builders import scim_preparer
from forwarder.records import LogType, event_id
from forwarder.settings import Settings
from tests.support.freshness_cost import SETTINGS, Setting, endpoint_name, requests_per_hour

ACCOUNT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
HEC_TOKEN = "00000000-0000-4000-8000-00000000f7e5"
LOG_TYPES = (ACCESS_REQUESTS, SCIM_UPDATES)


class AckTimedHec(FakeHec):
    """The fake HEC, also noting when it answered each event request: the events' acknowledgement."""

    def __init__(self) -> None:
        super().__init__([HecToken(HEC_TOKEN)])
        # Request number -> wall-clock time its 200 left (answers come after the events are indexed).
        self.acknowledged_at: dict[int, float] = {}

    async def _record(self, request: web.Request) -> ReceivedRequest:
        received = await super()._record(request)
        request["received"] = received
        return received

    async def _handle_event(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_event(request)
        received = request.get("received")
        if received is not None and response.status == 200:
            self.acknowledged_at[received.number] = time.time()
        return response

    def acknowledgements(self) -> dict[str, float]:
        """Event id -> when its first acknowledgement was answered."""
        found: dict[str, float] = {}
        for indexed in self.indexed:
            acknowledged = self.acknowledged_at.get(indexed.request_number)
            identity = _event_id_of(indexed.event)
            if acknowledged is not None and identity is not None:
                found.setdefault(identity, acknowledged)
        return found

    def delivered(self) -> Counter[str]:
        return Counter(
            identity for identity in (_event_id_of(item.event) for item in self.indexed) if identity
        )


def _event_id_of(document: Any) -> str | None:
    """The event id in an ECS document (``event.id``), or in a raw one (``_forwarder.event_id``)."""
    if not isinstance(document, dict):
        return None
    event = document.get("event")
    identity = event.get("id") if isinstance(event, dict) else None
    if isinstance(identity, str):
        return identity
    meta = document.get("_forwarder")
    identity = meta.get("event_id") if isinstance(meta, dict) else None
    return identity if isinstance(identity, str) else None


@dataclass
class Row:
    log_type: str
    event_id: str
    time: float
    visible_at: float

    @property
    def late(self) -> bool:
        # Visible later than its own time (beyond the sub-second of a timestamp's fraction).
        return self.visible_at - self.time > 0.5


@dataclass
class Outcome:
    setting: str
    minutes: float
    delays: list[float] = field(default_factory=list)
    late_delays: list[float] = field(default_factory=list)
    # Rows that appeared later than the settle delay plus the overlap: only a trailing re-read finds them.
    beyond_overlap_delays: list[float] = field(default_factory=list)
    rows: int = 0
    late_rows: int = 0
    undelivered: list[str] = field(default_factory=list)
    duplicates: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    measured_seconds: float = 0.0
    too_many_requests: int = 0
    # Repeats among everything the HEC indexed, measured or not; the exit code after SIGTERM.
    duplicates_overall: int = 0
    exit_code: int | None = None
    load: str = ""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the values at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.50), 2),
        "p90": round(percentile(values, 0.90), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values), 2),
    }


def simulator_config(started: datetime, minutes: float, arguments: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        accounts=[ACCOUNT],
        seed=arguments.seed,
        start=started - timedelta(minutes=20),
        end=started + timedelta(minutes=minutes + 30),
        access_per_minute=arguments.access_per_minute,
        scim_per_minute=arguments.scim_per_minute,
        profile=DataProfile(late=arguments.late, late_max_delay=arguments.late_max_delay),
    )


def forwarder_env(setting: Setting, api_url: str, hec_url: str, state: Path) -> dict[str, str]:
    """Default settings except where the API and the sink are (and the state files, the health port)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "CLOUDFLARE_API_TOKEN": DEFAULT_TOKEN,
        "CLOUDFLARE_API_BASE_URL": api_url,
        "FORWARDER_ACCOUNT_IDS": ACCOUNT,
        "FORWARDER_SINKS": "splunk_hec",
        "FORWARDER_SPLUNK_HEC__URL": hec_url,
        "FORWARDER_SPLUNK_HEC__TOKEN": HEC_TOKEN,
        "FORWARDER_CHECKPOINT_PATH": str(state / "checkpoints.json"),
        "FORWARDER_DEAD_LETTER_PATH": str(state / "dead-letters.ndjson"),
        "FORWARDER_HEALTH_PORT": "0",
        **setting.env,
    }


def expected_rows(simulator: SimulatorThread, floor: float, first: float, last: float) -> list[Row]:
    """Rows visible in ``[first, last)`` whose own time is at or after ``floor``, with their event ids."""
    prepare = scim_preparer(Settings(cloudflare_api_token="unused", account_ids=[ACCOUNT]))
    rows = []
    for log_type in LOG_TYPES:
        kind = LogType(log_type)
        known = simulator.call(functools.partial(_visibility, log_type=log_type))
        for data, moment, visible_at in known:
            if moment < floor or not first <= visible_at < last:
                continue
            prepared = prepare(data) if prepare is not None and kind is LogType.SCIM_UPDATES else data
            rows.append(Row(log_type, event_id(kind, ACCOUNT, prepared), moment, visible_at))
    return rows


def _visibility(simulator: Simulator, log_type: str) -> list[tuple[JsonObject, float, float]]:
    return simulator.store.visibility(ACCOUNT, log_type)


def count_requests(simulator: SimulatorThread, first: float, last: float) -> dict[str, int]:
    """Requests the simulator received in ``[first, last)``, by what they asked for."""

    def by_endpoint(sim: Simulator) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for request in sim.requests:
            if first <= request.time < last:
                counts[endpoint_name(request.path)] += 1
        return dict(counts)

    return simulator.call(by_endpoint)


def run(arguments: argparse.Namespace) -> Outcome:
    setting = SETTINGS[arguments.settings]
    started = datetime.now(UTC).replace(microsecond=0)
    outcome = Outcome(arguments.settings, arguments.minutes)
    hec = AckTimedHec()
    with (
        SimulatorThread(simulator_config(started, arguments.minutes, arguments)) as simulator,
        ThreadedFake(hec, FakeHec.start, FakeHec.close, name="fake-hec") as receiver,
        tempfile.TemporaryDirectory(prefix="freshness-") as state,
    ):
        env = forwarder_env(setting, simulator.base_url, receiver.started, Path(state))
        log_path = Path(arguments.log) if arguments.log else Path(state) / "forwarder.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "forwarder", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        launched = time.time()
        # The forwarder's start position is "now" when it starts, in whole seconds; it never reads
        # before it. A margin of two seconds keeps rows of the start-up's own second out.
        floor = launched + 2.0
        first, last = launched, launched + arguments.minutes * 60
        try:
            _wait(process, last)
            rows = expected_rows(simulator, floor, first, last)
            drain_limit = last + setting.drain_seconds
            while time.time() < drain_limit and process.poll() is None:
                acknowledged = receiver.call(lambda fake: fake.acknowledgements())
                if all(row.event_id in acknowledged for row in rows):
                    break
                time.sleep(2.0)
        finally:
            process.send_signal(signal.SIGTERM)
            outcome.exit_code = process.wait(timeout=60)
        acknowledged = receiver.call(lambda fake: fake.acknowledgements())
        delivered = receiver.call(lambda fake: fake.delivered())
        outcome.duplicates_overall = sum(count - 1 for count in delivered.values())
        outcome.requests = count_requests(simulator, first, last)
        outcome.too_many_requests = simulator.stats().too_many_requests
    outcome.measured_seconds = last - first
    _tally(outcome, rows, acknowledged, delivered)
    # The 1-, 5- and 15-minute load averages at the end: the 15-minute one spans a 10-minute run.
    one, five, fifteen = os.getloadavg()
    outcome.load = f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
    return outcome


def _wait(process: subprocess.Popen[bytes], until: float) -> None:
    while time.time() < until:
        if process.poll() is not None:
            raise RuntimeError(f"the forwarder exited early with {process.returncode}")
        time.sleep(min(5.0, max(0.0, until - time.time())))


def _tally(
    outcome: Outcome, rows: list[Row], acknowledged: Mapping[str, float], delivered: Counter[str]
) -> None:
    outcome.rows = len(rows)
    setting = SETTINGS[outcome.setting]
    for row in rows:
        moment = acknowledged.get(row.event_id)
        if moment is None:
            outcome.undelivered.append(f"{row.log_type} {row.event_id} visible {row.visible_at:.3f}")
            continue
        delay = moment - row.visible_at
        outcome.delays.append(delay)
        if row.late:
            outcome.late_rows += 1
            outcome.late_delays.append(delay)
            if row.visible_at - row.time > setting.settle_delay + setting.overlap:
                outcome.beyond_overlap_delays.append(delay)
        outcome.duplicates += delivered[row.event_id] - 1


def report(outcome: Outcome) -> dict[str, Any]:
    setting = SETTINGS[outcome.setting]
    hours = outcome.measured_seconds / 3600
    overall = summary(outcome.delays)
    return {
        "settings": outcome.setting,
        "env": setting.env,
        "minutes": outcome.minutes,
        "rows": outcome.rows,
        "late_rows": outcome.late_rows,
        "delay_seconds": overall,
        "late_delay_seconds": summary(outcome.late_delays),
        "beyond_overlap_delay_seconds": summary(outcome.beyond_overlap_delays),
        "bound_seconds": setting.bound,
        "within_bound": bool(outcome.delays) and overall["p99"] <= setting.bound,
        "undelivered": len(outcome.undelivered),
        "undelivered_rows": outcome.undelivered[:20],
        "duplicates": outcome.duplicates,
        "duplicates_overall": outcome.duplicates_overall,
        "exit_code": outcome.exit_code,
        "too_many_requests": outcome.too_many_requests,
        "requests_in_measured_minutes": outcome.requests,
        "requests_per_hour_measured": {
            name: round(count / hours, 1) for name, count in sorted(outcome.requests.items())
        },
        "load": outcome.load,
    }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.freshness", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="default")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long rows are measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--access-per-minute", type=float, default=150.0)
    parser.add_argument("--scim-per-minute", type=float, default=30.0)
    parser.add_argument("--late", type=float, default=DataProfile.late, help="fraction of rows that are late")
    parser.add_argument("--late-max-delay", type=float, default=DataProfile.late_max_delay)
    parser.add_argument("--log", help="where the forwarder's log goes (default: a temporary file)")
    parser.add_argument("--json", help="also write the report to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    result = report(run(arguments))
    setting = SETTINGS[arguments.settings]
    result["requests_per_hour_expected"] = requests_per_hour(
        setting,
        access_per_minute=arguments.access_per_minute,
        scim_per_minute=arguments.scim_per_minute,
    )
    text = json.dumps(result, indent=2)
    print(text)
    if arguments.json:
        Path(arguments.json).write_text(text + "\n")
    good = result["within_bound"] and not result["undelivered"] and result["exit_code"] == 0
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
