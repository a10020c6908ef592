"""docs/freshness.md's request cost per hour, checked against the simulator's own count.

One stream polls the simulator for two hours of a hand-moved clock: each sleep of the poll loop moves
the clock instead of waiting, so the schedule is the code's own (polls, trailing re-reads, the SCIM
identity-provider refresh) and nothing depends on how fast this machine is. The second hour, once
the start-up has passed (the first re-reads reach back only to where the stream started), must cost
what ``tests.support.freshness_cost.requests_per_hour`` says for that endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from fakes.cloudflare import DEFAULT_TOKEN, ManualClock, Simulator, SimulatorConfig
from forwarder.records import LogType, Record
from forwarder.retry import Backoff
from forwarder.source import streams
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.identity_providers import ScimIdentityProviders
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.stream_state import StreamOptions
from forwarder.source.streams import Stream
from tests.support.freshness_cost import SETTINGS, Setting, endpoint_name, requests_per_hour

ACCOUNT = "5c0f3e2d1b4a69788796a5b4c3d2e1f0"
# Away from a page boundary: a re-read of 1200 s holds 2,400 rows (3 pages) give or take the simulator's
# randomness; at 150 a minute it held about 3,000, 3 or 4 pages by chance.
ACCESS_PER_MINUTE = 120.0
SCIM_PER_MINUTE = 30.0
AUDIT_PER_MINUTE = 1.0
HOUR = 3600.0


class Stop(Exception):
    """Raised by the fake sleep once the simulated hours are over."""


@dataclass(frozen=True)
class Resumed:
    position: datetime
    committed: bool = False
    ids: Sequence[str] = ()
    floor: datetime | None = None


@dataclass
class CountingOutlet:
    """Takes what the stream reads and acknowledges it at once: only the requests are counted here."""

    start: datetime
    records: list[Record] = field(default_factory=list)

    async def resume(self, start: datetime) -> Resumed:
        return Resumed(self.start, floor=self.start)

    async def submit(self, records: Sequence[Record]) -> None:
        self.records.extend(records)

    async def window_read(self, position: datetime, recent: Sequence[tuple[str, datetime]]) -> None:
        return None


def options(setting: Setting, start: datetime) -> StreamOptions:
    return StreamOptions(
        poll_interval=setting.poll_interval,
        overlap=setting.overlap,
        settle_delay=setting.settle_delay,
        max_window=3600.0,
        page_size=1000,
        max_pages=1000,
        start=start,
        late_horizon=setting.late_horizon,
        reread_interval=setting.reread_interval,
    )


async def count_second_hour(
    setting: Setting,
    log_type: LogType,
    monkeypatch: pytest.MonkeyPatch,
    access_per_minute: float = ACCESS_PER_MINUTE,
) -> int:
    clock = ManualClock(float(int(datetime.now(UTC).timestamp())))
    began = clock()
    config = SimulatorConfig(
        accounts=[ACCOUNT],
        start=datetime.fromtimestamp(began - HOUR, UTC),
        end=datetime.fromtimestamp(began + 3 * HOUR, UTC),
        access_per_minute=access_per_minute,
        scim_per_minute=SCIM_PER_MINUTE,
        audit_per_minute=AUDIT_PER_MINUTE,
    )
    simulator = Simulator(config, clock=clock)
    base_url = await simulator.start()

    async def sleep(seconds: float) -> None:
        if clock() + seconds > began + 2 * HOUR:
            raise Stop
        clock.advance(seconds)
        await asyncio.sleep(0)

    # Only the poll loop's own sleeps move the clock; the client and the server run as they are.
    monkeypatch.setattr(streams, "asyncio", SimpleNamespace(sleep=sleep))
    client = CloudflareClient(
        base_url,
        Credentials(token=SecretStr(DEFAULT_TOKEN)),
        limiter=RateLimiter(100_000, 300),
        backoff=Backoff(0.001, 0.001),
    )
    start = datetime.fromtimestamp(began, UTC)
    identity_providers = ScimIdentityProviders(client, ACCOUNT, [], setting.idp_refresh_interval, clock=clock)
    stream = Stream(
        client,
        ACCOUNT,
        log_type,
        options(setting, start),
        CountingOutlet(start),
        idps=identity_providers,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )
    try:
        with pytest.raises(Stop):
            await stream.read()
        counted = [
            endpoint_name(request.path)
            for request in simulator.requests
            if began + HOUR <= request.time < began + 2 * HOUR
        ]
    finally:
        await client.close()
        await simulator.stop()
    assert not simulator.violations
    name = log_type.value
    if log_type is LogType.SCIM_UPDATES:
        assert counted.count("identity_providers") == 1
    return counted.count(name)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("log_type", [LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES, LogType.AUDIT_LOGS])
async def test_an_hour_costs_the_documented_requests(
    setting: str, log_type: LogType, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = SETTINGS[setting]
    expected = requests_per_hour(
        chosen,
        access_per_minute=ACCESS_PER_MINUTE,
        scim_per_minute=SCIM_PER_MINUTE,
        audit_per_minute=AUDIT_PER_MINUTE,
    )[log_type.value]
    counted = await count_second_hour(chosen, log_type, monkeypatch)
    # An hour's edges may cut one poll or one re-read page either way.
    assert abs(counted - expected) <= 2, (counted, expected)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
async def test_a_quiet_account_pays_no_confirming_page_once_its_longest_page_is_known(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 access rows a minute never fill a page of 1000, but a page shorter than the longest one the
    endpoint ever returned is the last (a server cap is at least that long): in the second hour no window
    costs a confirming, empty page (each cost one before the longest-page rule: 144 and 744 an hour)."""
    chosen = SETTINGS[setting]
    expected = requests_per_hour(chosen, access_per_minute=10, scim_per_minute=SCIM_PER_MINUTE)
    counted = await count_second_hour(chosen, LogType.ACCESS_REQUESTS, monkeypatch, access_per_minute=10)
    assert abs(counted - expected["access_requests"]) <= 2, (counted, expected)
    assert counted < expected["access_requests_page_size_unknown"] - 2


def test_the_documented_table_is_the_arithmetic() -> None:
    """The numbers docs/freshness.md states for one account at 120 access and 30 SCIM rows a minute."""
    default = requests_per_hour(SETTINGS["default"], access_per_minute=120, scim_per_minute=30)
    fast = requests_per_hour(SETTINGS["low-latency"], access_per_minute=120, scim_per_minute=30)
    # 60 polls + 12 re-reads of 2,400 rows (3 pages); 60 + 12 for SCIM; the IdP list once.
    assert (default["access_requests"], default["scim_updates"], default["identity_providers"]) == (96, 72, 1)
    assert default["total"] == 169
    assert (fast["access_requests"], fast["scim_updates"], fast["total"]) == (396, 372, 769)
    quiet = requests_per_hour(SETTINGS["default"], access_per_minute=2, scim_per_minute=0.5)
    # The worst case: every non-empty access window costs a second, empty page (page size unknown and
    # each window longer than any before).
    assert quiet["access_requests_page_size_unknown"] == 2 * 60 + 2 * 12
    assert (quiet["access_requests"], quiet["total"]) == (72, 145)
    assert fast["budget_share_percent"] == pytest.approx(100 * 769 / 14_400, abs=0.01)
