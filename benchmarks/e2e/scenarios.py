"""The forwarder's side: the data set in the simulator, the environment of `once`, and its three scenarios.

The forwarder is the real CLI (`cloudflare-siem-forwarder once`) in a process of its own: it polls the
Cloudflare simulator (in this process, on a thread), maps every record and ships it to the receiver.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from benchmarks.e2e.processes import HEC_TOKEN, ToolFailed, Usage, run_measured
from benchmarks.e2e.receivers import Receiver
from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.config import ACCESS_REQUESTS, DEFAULT_TOKEN, RateLimit, SimulatorConfig

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
FORMATS = ("ecs", "ocsf")
BATCH = 500
# No limit in the throughput scenarios: each forwarder run is a fresh process with the whole
# budget, but the simulator lives across runs and would count them all.
UNLIMITED = RateLimit(requests=1_000_000_000, period=300.0, block=0.0)
CLI = Path(sys.executable).with_name("cloudflare-siem-forwarder")
# The checkout these benchmarks are in: the CLI imports its `forwarder`, not the venv's editable install
# (which may point at another checkout).
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dataset:
    """`events` Access authentication records spread over `hours` that ended 15 minutes ago.

    The simulator's late records appear within two minutes of their time, so every record is visible
    when the run starts; the settle delay can be 0 and every run reads exactly the same records.
    """

    events: int
    end: datetime
    hours: float = 6.0
    seed: int = 11

    @classmethod
    def ending_now(cls, events: int, hours: float = 6.0) -> Dataset:
        return cls(events, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15), hours)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.hours)

    def simulator(self, rate_limit: RateLimit = UNLIMITED) -> SimulatorConfig:
        return SimulatorConfig(
            accounts=[ACCOUNT],
            seed=self.seed,
            start=self.start,
            end=self.end,
            access_per_minute=self.events / (self.hours * 60),
            scim_per_minute=0.0,
            rate_limit=rate_limit,
        )


@contextmanager
def simulator(dataset: Dataset, rate_limit: RateLimit = UNLIMITED) -> Iterator[SimulatorThread]:
    with SimulatorThread(dataset.simulator(rate_limit)) as running:
        running.call(lambda simulator: simulator.generate_all())
        yield running


def write_raw_records(running: SimulatorThread, path: Path) -> int:
    """The records as the API serves them, one per line: the ceiling's input."""
    records = running.records(ACCOUNT, ACCESS_REQUESTS)
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return len(records)


def sink_env(receiver: Receiver, fmt: str, *, gzip: bool) -> dict[str, str]:
    kind = receiver.kind
    prefix = f"FORWARDER_{kind.upper()}__"
    env = {"FORWARDER_SINKS": kind, f"{prefix}FORMAT": fmt, f"{prefix}BATCH_MAX_EVENTS": str(BATCH)}
    if kind == "splunk_hec":
        env |= {f"{prefix}URL": receiver.url, f"{prefix}TOKEN": HEC_TOKEN, f"{prefix}HOST": "bench"}
    elif kind == "elasticsearch":
        env |= {f"{prefix}URL": receiver.url}
    elif kind == "syslog":
        env |= {
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}PORT": str(receiver.port),
            f"{prefix}TRANSPORT": "tcp",
            f"{prefix}HOSTNAME": "bench",
        }
    else:
        env |= {f"{prefix}PATH": str(receiver.path), f"{prefix}FSYNC": "false"}
    if kind in ("splunk_hec", "elasticsearch"):
        env[f"{prefix}GZIP"] = "true" if gzip else "false"
    return env


def forwarder_env(
    base_url: str, dataset: Dataset, receiver: Receiver, fmt: str, scratch: Path, *, gzip: bool = False
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(CHECKOUT),
        "CLOUDFLARE_API_TOKEN": DEFAULT_TOKEN,
        "CLOUDFLARE_API_BASE_URL": base_url,
        "FORWARDER_ACCOUNT_IDS": ACCOUNT,
        "FORWARDER_LOG_TYPES": ACCESS_REQUESTS,
        "FORWARDER_START_AT": dataset.start.isoformat(),
        "FORWARDER_SETTLE_DELAY": "0",
        "FORWARDER_PAGE_SIZE": "1000",
        # The simulator is unlimited here: the forwarder's own budget and pacing must not bound a
        # throughput run (the rate-limit scenario sets its own).
        "FORWARDER_RATE_LIMIT_REQUESTS": "1000000000",
        "FORWARDER_CHECKPOINT_STORE": "memory",
        "FORWARDER_DEAD_LETTER_PATH": str(scratch / "dead-letters.ndjson"),
        "FORWARDER_HEALTH_PORT": "0",
        "FORWARDER_LOG_LEVEL": "WARNING",
        "FORWARDER_LOG_FORMAT": "json",
        "OTEL_SDK_DISABLED": "true",
        **sink_env(receiver, fmt, gzip=gzip),
    }


def run_forwarder(
    env: Mapping[str, str], receiver: Receiver, expected: int, log: Path, *, timeout: float = 900.0
) -> Usage:
    """One `once` run, until it exits and the receiver holds every event; then exactly that many."""
    usage = run_measured(
        [str(CLI), "once"], env, log, timeout=timeout, done=lambda: receiver.count() >= expected
    )
    got = receiver.count()
    if got != expected:
        raise ToolFailed(f"forwarder -> {receiver.kind}: {got} of {expected} events arrived; see {log}")
    return usage


# --- (c) the rate limit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitResult:
    time_scale: float
    page_size: int
    pages: int
    requests: int
    too_many_requests: int
    seconds: float
    best_seconds: float
    events: int
    # Seconds from the first request to request number `limit`: under `period`, the limit binds.
    first_budget_seconds: float

    @property
    def fraction(self) -> float:
        """Achieved rate over the best possible rate (requests per period x page size)."""
        return self.best_seconds / self.seconds if self.seconds else 0.0


def rate_limited_backfill(
    scratch: Path,
    *,
    periods: int,
    time_scale: float,
    page_size: int,
    limit: int = 1200,
    period: float = 300.0,
) -> RateLimitResult:
    """Backfill `periods x limit` full pages against a simulator enforcing `limit` per `period`.

    The simulator holds exactly `periods * limit * page_size` records, read in one window, so the
    forwarder needs `periods * limit + 1` requests (the last page is empty). A perfect client under a
    sliding window of `limit` starts per `period` spends the whole budget at once and then waits:
    its request `k*limit + 1` can start exactly `k` periods after the first. So the best possible
    time from the first request to the last is `periods` periods, and the achieved rate divided by
    the best possible rate (limit / period x page size) is that time over the measured one.
    """
    pages = periods * limit
    real_period = period / time_scale
    dataset = Dataset.ending_now(pages * page_size, hours=6.0)
    policy = RateLimit(requests=limit, period=period, block=period, time_scale=time_scale)
    receiver = Receiver("file", scratch)
    with simulator(dataset, policy) as running:
        expected = len(running.records(ACCOUNT, ACCESS_REQUESTS))
        running.call(lambda simulator: simulator.clear_observations())
        env = forwarder_env(running.base_url, dataset, receiver, "ecs", scratch)
        env |= {
            "FORWARDER_PAGE_SIZE": str(page_size),
            "FORWARDER_MAX_WINDOW": "7d",
            "FORWARDER_MAX_PAGES": str(pages + 10),
            "FORWARDER_RATE_LIMIT_REQUESTS": str(limit),
            # The whole ceiling as budget: no reserve, or the server's word holds it at limit - 100.
            "FORWARDER_RATE_LIMIT_RESERVE": "0",
            "FORWARDER_RATE_LIMIT_PERIOD": f"{real_period:g}",
            "FORWARDER_MAX_EVENT_AGE": "30d",
        }
        try:
            run_forwarder(
                env, receiver, expected, scratch / "rate-limit.log", timeout=periods * real_period * 6 + 60
            )
        finally:
            receiver.stop()
        requests = running.call(lambda simulator: [request.time for request in simulator.requests])
        stats = running.stats()
    return RateLimitResult(
        time_scale=time_scale,
        page_size=page_size,
        pages=pages,
        requests=len(requests),
        too_many_requests=stats.too_many_requests,
        seconds=max(requests) - min(requests),
        best_seconds=periods * real_period,
        events=expected,
        first_budget_seconds=sorted(requests)[limit - 1] - min(requests),
    )
