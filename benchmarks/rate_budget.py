"""How the forwarder spends Cloudflare's request budget, against the simulator with latency.

Each scenario runs the source (client, limiter, streams; no sinks: they do not touch the budget) in
this process against a simulator enforcing 1200 requests per 300 s, with every simulated duration
(the period, the round trip, the poll interval...) compressed by ``--time-scale``. Numbers are in
simulated seconds. Scenarios:

- ``backfill``: one account, a backfill of many pages per window at a 300 ms round trip: the
  fraction of the 1200/300 s ceiling used, and how the requests spread over the period (most in
  any 10 s and in any 1 s, against Cloudflare's 200 per second per IP). ``backfill-1200``: the
  same with the whole ceiling as budget (and no reserve).
- ``dashboard``: the same backfill while a person on the dashboard spends ``--dashboard`` requests
  per 300 s on the same user: 429s the forwarder received and requests the dashboard was refused.
- ``overlap``: a 24 h backfill of two log types at the default page size, no rate limit: requests
  spent, and every record delivered exactly once.
- ``accounts``: N accounts on one token polled live: requests, 429s, how far behind now the
  streams are (poll lag), and every record before the streams' positions delivered.

``--before COMMIT`` also runs each scenario with the forwarder package of COMMIT (the fakes and this
file stay the working tree's), alternating before and after, so that both see the same load.

    PYTHONPATH=$PWD python -m benchmarks.rate_budget --before ee5d53e --repeat 3 \
        --json benchmarks/rate_budget_results.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakes.cloudflare import DEFAULT_TOKEN, DataProfile, RateLimit, Simulator, SimulatorConfig
from fakes.cloudflare.dashboard import DashboardUser
from forwarder.records import LogType, Record
from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.identity_providers import ScimIdentityProviders
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.stream_state import StreamOptions
from forwarder.source.streams import Stream

CEILING = 1200
PERIOD = 300.0
UNLIMITED = RateLimit(requests=1_000_000_000, period=300.0, block=0.0)


def code() -> str:
    """Which forwarder is imported: the one with pacing ("after") or without ("before")."""
    return "after" if "burst" in inspect.signature(RateLimiter).parameters else "before"


def defaults() -> dict[str, Any]:
    """The budget settings' defaults of the imported forwarder."""
    from forwarder.settings.model import Settings

    fields = Settings.model_fields
    names = ("rate_limit_requests", "rate_limit_burst", "rate_limit_reserve", "page_depth")
    return {name: fields[name].default for name in names if name in fields}


def account_ids(count: int) -> list[str]:
    return [f"{index:032x}" for index in range(1, count + 1)]


@dataclasses.dataclass
class Outlet:
    """Takes every record at once (no sink holds anything up) and remembers what was delivered."""

    start: datetime
    delivered: Counter[str] = dataclasses.field(default_factory=Counter)

    async def resume(self, start: datetime) -> Any:
        return _Resumption(start)

    async def submit(self, records: Sequence[Record]) -> None:
        self.delivered.update(record.event_id for record in records)

    async def window_read(self, position: datetime, recent: Sequence[tuple[str, datetime]]) -> None:
        return None


@dataclasses.dataclass
class _Resumption:
    position: datetime
    committed: bool = False
    ids: Sequence[str] = ()
    floor: datetime | None = None


@dataclasses.dataclass
class Source:
    """The client and streams of one credential, scaled: every duration divided by ``scale``."""

    scale: float
    base_url: str
    budget: int | None
    # The whole ceiling as budget needs no reserve, or the server's word holds it at ceiling - reserve.
    reserve: int | None = None

    def client(self) -> CloudflareClient:
        values = defaults()
        budget = self.budget or values.get("rate_limit_requests", CEILING)
        extra: dict[str, Any] = {}
        if "rate_limit_burst" in values:
            reserve = values["rate_limit_reserve"] if self.reserve is None else self.reserve
            extra = {"burst": values["rate_limit_burst"], "reserve": reserve}
        limiter = RateLimiter(budget, PERIOD / self.scale, **extra)
        return CloudflareClient(
            self.base_url,
            Credentials(token=_secret(DEFAULT_TOKEN)),
            limiter=limiter,
            backoff=Backoff(0.5 / self.scale, 60.0 / self.scale),
        )

    def options(self, start: datetime, **overrides: Any) -> StreamOptions:
        scale = self.scale
        values: dict[str, Any] = {
            "poll_interval": 60.0 / scale,
            "overlap": 120.0 / scale,
            "settle_delay": 60.0 / scale,
            "max_window": 3600.0 / scale,
            "page_size": 1000,
            "max_pages": 100_000,
            "start": start,
            "late_horizon": 900.0 / scale,
            "reread_interval": 300.0 / scale,
            "page_depth": defaults().get("page_depth", 1),
        } | overrides
        known = {field.name for field in dataclasses.fields(StreamOptions)}
        return StreamOptions(**{name: value for name, value in values.items() if name in known})


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def spread(times: Sequence[float], scale: float) -> dict[str, Any]:
    """Most requests in any 1 s and any 10 s (simulated), and the share of a period's requests sent
    in its busiest 90 s."""
    simulated = sorted(moment * scale for moment in times)
    if not simulated:
        return {}

    def most_within(span: float) -> int:
        best, first = 0, 0
        for last, moment in enumerate(simulated):
            while moment - simulated[first] >= span:
                first += 1
            best = max(best, last - first + 1)
        return best

    return {
        "max_per_second": most_within(1.0),
        "max_per_10s": most_within(10.0),
        "max_per_90s": most_within(90.0),
        "max_per_300s": most_within(300.0),
    }


async def backfill(
    scale: float, seconds: float, latency: float, budget: int | None, dashboard: int
) -> dict[str, Any]:
    """One account backfilling many 25-row pages per one-hour window for ``seconds`` simulated."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    rows = int(seconds * CEILING / PERIOD * 25 * 1.3)
    hours = 6.0
    config = SimulatorConfig(
        accounts=account_ids(1),
        seed=5,
        start=end - timedelta(hours=hours),
        end=end,
        access_per_minute=rows / (hours * 60),
        scim_per_minute=0.0,
        audit_per_minute=0.0,
        rate_limit=RateLimit(requests=CEILING, period=PERIOD, block=PERIOD, time_scale=scale),
        latency=latency,
    )
    simulator = Simulator(config)
    simulator.generate_all()
    base_url = await simulator.start()
    source = Source(scale, base_url, budget, 0 if budget == CEILING else None)
    client = source.client()
    account = account_ids(1)[0]
    outlet = Outlet(end)
    options = source.options(config.start, page_size=25)
    stream = Stream(client, account, LogType.ACCESS_REQUESTS, options, outlet)  # type: ignore[arg-type]
    user = DashboardUser(simulator, "default", requests=dashboard) if dashboard else None
    if user is not None:
        user.start()
    task = asyncio.ensure_future(stream.read(until_caught_up=True))
    await asyncio.sleep(seconds / scale)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if user is not None:
        await user.stop()
    await client.close()
    await simulator.stop()
    times = [request.time for request in simulator.requests]
    first = min(times)
    counted = [moment for moment in times if moment < first + seconds / scale]
    truth = list(simulator.records(account, "access_requests"))
    return {
        "requests": len(counted),
        "fraction_of_ceiling": len(counted) / (seconds * CEILING / PERIOD),
        "too_many_requests": simulator.stats.too_many_requests,
        # Blocks started by anyone: the dashboard's own requests may start one too.
        "blocks": simulator.rate_limiter.blocks_started,
        "dashboard_spent": user.spent if user else 0,
        "dashboard_refused": user.refused if user else 0,
        "duplicates": sum(count - 1 for count in outlet.delivered.values()),
        "records_available": len(truth),
        **spread(times, scale),
    }


async def overlap(scale: float, access_per_minute: float) -> dict[str, Any]:
    """A 24 h backfill of access and SCIM logs at the default page size: requests, and every record
    delivered exactly once."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    account = account_ids(1)[0]
    config = SimulatorConfig(
        accounts=[account],
        seed=9,
        start=end - timedelta(hours=24),
        end=end,
        access_per_minute=access_per_minute,
        scim_per_minute=access_per_minute / 5,
        audit_per_minute=0.0,
        rate_limit=UNLIMITED,
    )
    simulator = Simulator(config)
    simulator.generate_all()
    base_url = await simulator.start()
    source = Source(1.0, base_url, 1_000_000)
    client = source.client()
    result: dict[str, Any] = {"lost": 0, "duplicates": 0}
    for log_type in (LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES):
        outlet = Outlet(end)
        idps = ScimIdentityProviders(client, account, [], 3600.0)
        options = source.options(config.start, late_horizon=900.0, reread_interval=3600.0, settle_delay=60.0)
        stream = Stream(client, account, log_type, options, outlet, idps=idps)  # type: ignore[arg-type]
        before = len(simulator.requests)
        await stream.read(until_caught_up=True)
        result[f"{log_type.value}_requests"] = len(simulator.requests) - before
        truth = {_event_id(log_type, account, row) for row in simulator.records(account, log_type.value)}
        result["lost"] += len(truth - set(outlet.delivered))
        result["duplicates"] += sum(count - 1 for count in outlet.delivered.values())
    result["requests"] = result["access_requests_requests"] + result["scim_updates_requests"]
    await client.close()
    await simulator.stop()
    return result


def _event_id(log_type: LogType, account: str, row: Any) -> str:
    from forwarder.source.paging import record_from_api

    return record_from_api(log_type, account, row).event_id


async def accounts(
    scale: float, count: int, seconds: float, poll_interval: float, latency: float
) -> dict[str, Any]:
    """``count`` accounts, access and SCIM logs each, polled live on one token for ``seconds``."""
    now = datetime.now(UTC).replace(microsecond=0)
    ids = account_ids(count)
    config = SimulatorConfig(
        accounts=ids,
        seed=3,
        start=now - timedelta(minutes=10),
        end=now + timedelta(seconds=seconds / scale + 60),
        # A typical account: 10 sign-ins and 2 SCIM changes a minute, simulated (so x scale per real minute).
        access_per_minute=10.0 * scale,
        scim_per_minute=2.0 * scale,
        audit_per_minute=0.0,
        rate_limit=RateLimit(requests=CEILING, period=PERIOD, block=PERIOD, time_scale=scale),
        profile=DataProfile(late_max_delay=120.0 / scale),
        latency=latency,
    )
    simulator = Simulator(config)
    simulator.generate_all()
    base_url = await simulator.start()
    source = Source(scale, base_url, None)
    client = source.client()
    streams: list[tuple[Stream, Outlet]] = []
    for account in ids:
        idps = ScimIdentityProviders(client, account, [], 3600.0 / scale)
        for log_type in (LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES):
            outlet = Outlet(now)
            options = source.options(now, poll_interval=poll_interval / scale)
            stream = Stream(client, account, log_type, options, outlet, idps=idps)  # type: ignore[arg-type]
            streams.append((stream, outlet))
    tasks = [asyncio.ensure_future(stream.read()) for stream, _ in streams]
    lags = await sample_lags([stream for stream, _ in streams], scale, seconds, poll_interval)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lost = sum(undelivered(simulator, stream, outlet, now, 120.0 / scale) for stream, outlet in streams)
    await client.close()
    await simulator.stop()
    times = [request.time for request in simulator.requests]
    return {
        "accounts": count,
        "poll_interval": poll_interval,
        "requests": len(times),
        "requests_per_300s": len(times) / seconds * PERIOD,
        "by_endpoint": dict(simulator.stats.requests_by_endpoint),
        "too_many_requests": simulator.stats.too_many_requests,
        "lag_median": statistics.median(lags) if lags else None,
        "lag_max": max(lags) if lags else None,
        "lost_before_position": lost,
        **spread(times, scale),
    }


async def sample_lags(
    streams: Sequence[Stream], scale: float, seconds: float, poll_interval: float
) -> list[float]:
    """Every 5 simulated seconds for ``seconds``: how far the furthest-behind stream is behind now."""
    lags: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds / scale:
        await asyncio.sleep(1.0 / scale * 5)
        moment = datetime.now(UTC)
        behind = [
            (moment - stream.progress.position).total_seconds() * scale
            for stream in streams
            if stream.progress.position is not None
        ]
        # The first poll intervals are the start-up, not the steady state.
        if behind and time.monotonic() - started > 2 * poll_interval / scale:
            lags.append(max(behind))
    return lags


def undelivered(simulator: Simulator, stream: Stream, outlet: Outlet, start: datetime, late: float) -> int:
    """Rows of ``stream`` from ``start`` to well before its position that were not delivered."""
    position = stream.progress.position
    assert position is not None
    visible = [
        row
        for row in simulator.records(stream.account_id, stream.log_type.value)
        if _visible_before(row, start, position, stream.log_type, late)
    ]
    ids = {_event_id(stream.log_type, stream.account_id, row) for row in visible}
    return len(ids - set(outlet.delivered))


def _visible_before(row: Any, start: datetime, position: datetime, log_type: LogType, late: float) -> bool:
    field = log_type.time_field
    value = row.get(field)
    if not isinstance(value, str):
        return False
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    # Rows within the overlap of the position may still be on their way; older ones must be there.
    return start <= moment < position - timedelta(seconds=late)


SCENARIOS = ("backfill", "backfill-1200", "dashboard", "overlap", "overlap-busy", "accounts")


async def run_scenario(name: str, arguments: argparse.Namespace) -> list[dict[str, Any]]:
    scale = arguments.time_scale
    seconds = arguments.periods * PERIOD
    if name == "backfill":
        return [await backfill(scale, seconds, 0.3, None, 0)]
    if name == "backfill-1200":
        return [await backfill(scale, seconds, 0.3, CEILING, 0)]
    if name == "dashboard":
        return [await backfill(scale, seconds, arguments.dashboard_latency, None, arguments.dashboard)]
    if name == "overlap":
        return [await overlap(scale, 10.0)]
    if name == "overlap-busy":
        return [await overlap(scale, 100.0)]
    results = []
    for count in arguments.accounts:
        for poll in arguments.poll_intervals:
            results.append(await accounts(scale, count, seconds, poll, 0.3))
    return results


def compare(arguments: argparse.Namespace) -> list[dict[str, Any]]:
    """Each scenario with the forwarder of ``--before`` and of the working tree, alternating."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="rate-before-") as scratch:
        before = arguments.before
        if not Path(before).is_dir():
            # A commit: its forwarder package, beside this tree's fakes and benchmarks.
            archive = subprocess.run(
                ["git", "archive", before, "forwarder"], cwd=here, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
            before = scratch
        rows = []
        for repeat in range(arguments.repeat):
            for name in arguments.only:
                for label, path in (("before", f"{before}{os.pathsep}{here}"), ("after", str(here))):
                    if label == "before" and name in ("accounts", "backfill-1200"):
                        continue
                    command = [sys.executable, "-m", "benchmarks.rate_budget", "--only", name, "--json", "-"]
                    command += _passed_on(arguments)
                    # `-m` puts the working directory first on the path: the package compared must be there.
                    output = subprocess.run(
                        command,
                        env=os.environ | {"PYTHONPATH": path},
                        cwd=path.split(os.pathsep)[0],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                    for row in json.loads(output):
                        row |= {"code": label, "repeat": repeat}
                        print(json.dumps(row), file=sys.stderr, flush=True)
                        rows.append(row)
        return rows


def _passed_on(arguments: argparse.Namespace) -> list[str]:
    return [
        "--time-scale", str(arguments.time_scale),
        "--periods", str(arguments.periods),
        "--dashboard", str(arguments.dashboard),
        "--dashboard-latency", str(arguments.dashboard_latency),
        "--accounts", *map(str, arguments.accounts),
        "--poll-intervals", *map(str, arguments.poll_intervals),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--time-scale", type=float, default=10.0, help="300 simulated s last 300/this s")
    parser.add_argument("--periods", type=float, default=2.0, help="rate-limit periods each timed run lasts")
    parser.add_argument("--dashboard", type=int, default=150, help="dashboard requests per 300 s")
    parser.add_argument("--dashboard-latency", type=float, default=0.05, help="round trip s in `dashboard`")
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--poll-intervals", type=float, nargs="+", default=[60.0])
    parser.add_argument(
        "--before", help="also run the forwarder of this commit (or of this directory), alternating"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="write the rows here ('-': stdout)")
    arguments = parser.parse_args(argv)
    if arguments.before:
        rows = compare(arguments)
    else:
        rows = []
        for name in arguments.only:
            for row in asyncio.run(run_scenario(name, arguments)):
                rows.append({"scenario": name, "code": code(), **row})
    if arguments.json == "-":
        print(json.dumps(rows))
    elif arguments.json:
        Path(arguments.json).write_text(json.dumps(rows, indent=1) + "\n")
    if arguments.json != "-":
        for row in rows:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
