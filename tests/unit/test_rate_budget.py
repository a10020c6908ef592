"""Spending Cloudflare's request budget well: pacing and the server's word (fake clock), several
page requests in flight without losing or repeating a row, and the overlap read only where a row can
still have appeared."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fakes.cloudflare import RateLimit, Simulator, SimulatorConfig
from fakes.cloudflare.dashboard import DashboardUser
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, Record
from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.paging import Window, WindowReader
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.stream_state import whole_seconds
from forwarder.source.streams import Stream
from tests.unit.cloudflare_support import ACCOUNT, T0, Api, Clock, access, client, read_and_commit, stream


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def most_within(starts: list[float], span: float) -> int:
    return max(sum(1 for other in starts if start <= other < start + span) for start in starts)


# --- the limiter ------------------------------------------------------------------------------------


async def test_pacing_spreads_the_budget_over_the_period_after_a_small_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, 100.0, burst=5, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(300):
        limiter.done(await limiter.acquire())
        starts.append(clock.now)
    assert starts[:5] == [0.0] * 5
    # One a second after the burst: no second holds more than the burst and a second's refill.
    assert most_within(starts, 1.0) <= 6
    assert most_within(starts, 100.0) <= 100
    assert starts[-1] == pytest.approx(295.0)


async def test_pacing_never_lets_the_sliding_window_be_passed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, 100.0, burst=10, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(40):
        slot = await limiter.acquire()
        starts.append(clock.now)
        clock.now += 5.0  # each answer takes 5 s: the slot counts to a period after it
        limiter.done(slot)
    assert most_within(starts, 100.0) <= 10


async def test_never_more_than_the_server_says_remains_less_the_reserve() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 300.0, reserve=10, clock=clock, sleep=clock.sleep)
    first = await limiter.acquire()
    limiter.done(first)
    limiter.observe(first, remaining=13, reset=30.0)
    for _ in range(3):
        await limiter.acquire()
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.now == 30.0  # the fourth waits for the server's reset


async def test_requests_started_after_the_answered_one_count_against_what_remains() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 300.0, clock=clock, sleep=clock.sleep)
    first, _, _ = [await limiter.acquire() for _ in range(3)]
    # The server counted the first; the two after it may not be counted yet.
    limiter.observe(first, remaining=5, reset=60.0)
    for _ in range(3):
        await limiter.acquire()
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.now == 60.0


async def test_an_older_answer_does_not_override_a_newer_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, 300.0, clock=clock, sleep=clock.sleep)
    older, newer = await limiter.acquire(), await limiter.acquire()
    limiter.observe(newer, remaining=1, reset=60.0)
    limiter.observe(older, remaining=900, reset=60.0)
    await limiter.acquire()
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.now == 60.0


# --- the client follows the headers of sound answers only -------------------------------------------


def envelope(headers: dict[str, str], status: int = 200) -> httpx.Response:
    body: dict[str, Any] = {"success": status < 400, "errors": [], "messages": [], "result": []}
    if status >= 400:
        body["errors"] = [{"code": 10000, "message": "Internal error"}]
    return httpx.Response(status, json=body, headers=headers)


def header_client(answers: list[httpx.Response], clock: FakeClock) -> CloudflareClient:
    limiter = RateLimiter(1000, 300.0, reserve=100, clock=clock, sleep=clock.sleep)
    return CloudflareClient(
        "https://api.example/client/v4",
        Credentials(token=SecretStr("t")),
        limiter=limiter,
        backoff=Backoff(0.0001, 0.0001),
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Ratelimit": '"default";r=101;t=40', "Ratelimit-Policy": '"default";q=1200;w=300'},
        {"X-RateLimit-Limit": "1200", "X-RateLimit-Remaining": "101", "X-RateLimit-Reset": "40"},
    ],
)
async def test_a_sound_answer_saying_little_remains_holds_the_next_request_until_its_reset(
    headers: dict[str, str],
) -> None:
    clock = FakeClock()
    api = header_client([envelope(headers)], clock)
    await api.get("/accounts/a/x", [], operation="access_requests", account_id="a")
    # 101 remain, 100 are left to the dashboard: one more may start, then the reset is waited for.
    assert api.limiter.delay() == 0.0
    await api.limiter.acquire()
    assert api.limiter.delay() == pytest.approx(40.0)
    await api.close()


async def test_an_error_answers_rate_headers_are_not_taken_for_the_apis_word() -> None:
    # An edge's 503 (or a proxy's page) replacing the answer carries headers of its own.
    clock = FakeClock()
    answers = [envelope({"Ratelimit": '"default";r=3;t=280'}, status=503), envelope({})]
    api = header_client(answers, clock)
    await api.get("/accounts/a/x", [], operation="access_requests", account_id="a")
    assert api.limiter.delay() == 0.0
    await api.close()


async def test_an_answer_without_rate_headers_changes_nothing() -> None:
    clock = FakeClock()
    api = header_client([envelope({})], clock)
    await api.get("/accounts/a/x", [], operation="access_requests", account_id="a")
    assert api.limiter.delay() == 0.0
    await api.close()


# --- pages in flight ----------------------------------------------------------------------------------


class InFlight:
    """An async endpoint around ``api`` that counts the requests being answered at once."""

    def __init__(self, api: Callable[[httpx.Request], httpx.Response]) -> None:
        self.api = api
        self.now = 0
        self.most = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.001)
        self.now -= 1
        return self.api(request)


async def read_window(
    api: Api, depth: int, *, log_type: LogType = LogType.ACCESS_REQUESTS, max_pages: int = 1000
) -> tuple[WindowReader, list[Record], InFlight]:
    endpoint = InFlight(api)
    shared = client(endpoint)  # type: ignore[arg-type]
    window = Window(T0, T0 + timedelta(hours=1))
    idps = ["idp"] if log_type is LogType.SCIM_UPDATES else []
    reader = WindowReader(shared, ACCOUNT, log_type, window, 10, max_pages, idps, depth=depth)
    records = [record async for page in reader.pages() for record in page]
    await shared.close()
    return reader, records, endpoint


def rows(count: int) -> list[dict[str, Any]]:
    return [access(index, T0 + timedelta(seconds=index)) for index in range(count)]


def pages_asked(api: Api) -> list[int]:
    return [int(dict(query)["page"]) for query in api.queries]


FLAWS: dict[str, dict[str, Any]] = {
    "honest": {},
    "capped below the size asked": {"cap": 7},
    "cut to fewer rows, paging by the size asked": {"truncate": 7},
}


@pytest.mark.parametrize("flaw", list(FLAWS))
@pytest.mark.parametrize("count", [0, 5, 10, 11, 207, 1000])
async def test_pages_in_flight_neither_lose_nor_repeat_a_row(flaw: str, count: int) -> None:
    deep, deep_records, endpoint = await read_window(Api(rows(count), **FLAWS[flaw]), depth=4)
    alone, alone_records, _ = await read_window(Api(rows(count), **FLAWS[flaw]), depth=1)
    ids = [record.data["ray_id"] for record in deep_records]
    assert sorted(ids) == sorted(record.data["ray_id"] for record in alone_records)
    assert len(ids) == len(set(ids))
    if flaw != "cut to fewer rows, paging by the size asked" or count > 10:
        # (A server that cuts the only page of a window short cannot be told from a short window.)
        assert sorted(ids) == sorted(row["ray_id"] for row in rows(count))
    assert (deep.complete, deep.last_time) == (alone.complete, alone.last_time)
    if count >= 207 and flaw == "honest":
        assert endpoint.most == 4


async def test_requests_past_the_end_waste_fewer_than_the_depth() -> None:
    for count in (0, 5, 10, 35, 207, 1000):
        deep_api, alone_api = Api(rows(count)), Api(rows(count))
        await read_window(deep_api, depth=4)
        await read_window(alone_api, depth=1)
        assert len(deep_api.queries) - len(alone_api.queries) <= 3
        # The pages the window needed were asked for once each.
        assert pages_asked(deep_api)[: len(alone_api.queries)] == pages_asked(alone_api)


async def test_pages_in_flight_stop_where_the_api_ignores_page() -> None:
    api = Api(rows(50), ignore_page=True)
    reader, records, _ = await read_window(api, depth=4)
    assert not reader.complete
    assert "ignored `page`" in reader.stop_reason
    assert len(records) == 10


async def test_pages_in_flight_never_pass_total_pages_or_the_page_cap() -> None:
    api = Api(rows(95))
    reader, records, endpoint = await read_window(api, depth=4, log_type=LogType.SCIM_UPDATES)
    assert len(records) == 95
    assert reader.complete
    assert max(pages_asked(api)) == 10  # total_pages: not one request past it
    assert sorted(pages_asked(api)) == list(range(1, 11))
    assert endpoint.most > 1
    capped = Api(rows(500))
    reader, records, _ = await read_window(capped, depth=4, max_pages=6)
    assert not reader.complete
    assert max(pages_asked(capped)) == 6
    assert len(records) == 60


async def test_only_a_window_no_row_can_appear_in_any_more_has_pages_in_flight() -> None:
    data = [access(index, T0 + timedelta(seconds=index * 3)) for index in range(2400)]
    for now, expected in ((T0 + timedelta(hours=5), 4), (T0 + timedelta(hours=2, minutes=1), 1)):
        endpoint = InFlight(Api(data))
        loop = stream(
            endpoint,  # type: ignore[arg-type]
            MemoryCheckpointStore(),
            [],
            now,
            late_horizon=900.0,
            page_depth=4,
            max_window=7200.0,
        )
        await loop.poll_once(T0, T0 + timedelta(hours=2))
        assert endpoint.most == expected


# --- the overlap ------------------------------------------------------------------------------------


def sinces(api: Api) -> list[str]:
    return [dict(query)["since"] for query in api.queries if dict(query)["page"] == "1"]


async def test_a_backfill_rereads_no_overlap_where_no_row_can_appear_any_more() -> None:
    api = Api([access(index, T0 + timedelta(seconds=index * 10)) for index in range(3600)])
    delivered: list[Record] = []
    now = T0 + timedelta(hours=10, minutes=1)
    loop = stream(
        api, MemoryCheckpointStore(), delivered, now, overlap=120.0, late_horizon=900.0, page_size=1000
    )
    await read_and_commit(loop)
    assert len(delivered) == 3600
    # Each window starts where the one before ended, except the last: its predecessor ended
    # within the late horizon of the read, where rows may still appear.
    starts = sinces(api)
    hours = [T0 + timedelta(hours=hour) for hour in range(10)]
    assert starts[:10] == [hour.strftime("%Y-%m-%dT%H:%M:%SZ") for hour in hours]
    assert starts[10] == (T0 + timedelta(hours=10) - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_live_window_still_rereads_the_overlap_and_finds_a_row_that_appeared_late() -> None:
    api = Api([access(index, T0 + timedelta(seconds=index * 10)) for index in range(30)])
    delivered: list[Record] = []
    clock = Clock(T0 + timedelta(minutes=6))
    loop = stream(api, MemoryCheckpointStore(), delivered, clock, overlap=60.0, late_horizon=900.0)
    position = await loop.poll_once(T0, T0 + timedelta(minutes=5, seconds=30))
    api.rows.append(access(99, T0 + timedelta(minutes=5, seconds=1)))
    clock.now += timedelta(minutes=1)
    await loop.poll_once(position, T0 + timedelta(minutes=6, seconds=30))
    assert "99" in {str(int(record.data["ray_id"], 16)) for record in delivered}


class LateApi(Api):
    """Rows become visible ``lateness`` after their own time, as the clock moves."""

    def __init__(self, data: list[tuple[dict[str, Any], timedelta]], clock: Clock) -> None:
        super().__init__([row for row, _ in data])
        self.visible = {row["ray_id"]: datetime.fromisoformat(row["created_at"]) + late for row, late in data}
        self.all_rows = list(self.rows)
        self.clock = clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.rows = [row for row in self.all_rows if self.visible[row["ray_id"]] <= self.clock.now]
        return super().__call__(request)


async def run_with_late_rows(
    seed: int, old_rule: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[set[str], int]:
    """Backfill three hours, then poll live for an hour, while rows keep appearing up to the
    settled span late; the ids delivered and the rows read again (dropped as already seen)."""
    generator = random.Random(seed)
    settle, overlap, horizon = 30.0, 120.0, 600.0
    data = [
        (access(index, T0 + timedelta(seconds=index * 7)), timedelta(seconds=generator.uniform(0, horizon)))
        for index in range(4 * 3600 // 7)
    ]
    clock = Clock(T0 + timedelta(hours=3))
    api = LateApi(data, clock)
    delivered: list[Record] = []
    options: dict[str, Any] = {
        "overlap": overlap,
        "settle_delay": settle,
        "late_horizon": horizon,
        "reread_interval": 60.0,
    }
    loop = stream(api, MemoryCheckpointStore(), delivered, clock, page_size=100, **options)
    if old_rule:
        monkeypatch.setattr(Stream, "_overlap_start", _old_overlap_start)
    position = await loop._restore()
    for _ in range(80):
        clock.now += timedelta(seconds=60)
        if loop._reread_due(clock.now):
            await loop.reread_recent(position)
        end = whole_seconds(clock.now - timedelta(seconds=settle))
        while position < end:
            position = await loop.poll_once(position, end)
    monkeypatch.undo()
    assert len(delivered) == len({record.event_id for record in delivered})
    return {str(record.data["ray_id"]) for record in delivered}, loop.progress.duplicates


def _old_overlap_start(self: Stream, position: datetime) -> datetime:
    """The rule before: the whole overlap after every complete window."""
    return position - timedelta(seconds=self.options.overlap) if self._last_window_complete else position


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_no_row_that_appears_late_is_lost_for_the_overlap_not_read(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, new_repeats = await run_with_late_rows(seed, False, monkeypatch)
    old, old_repeats = await run_with_late_rows(seed, True, monkeypatch)
    # The same rows found, every one of them, with fewer rows read twice.
    assert new == old
    assert len(new) == 4 * 3600 // 7
    assert new_repeats < old_repeats


async def test_a_page_shorter_than_the_longest_the_endpoint_returned_is_the_last() -> None:
    # A cap, if the server has one, is at least the longest page it returned: a shorter page is the
    # last, and only a new longest page costs the request that tells (live polls of a quiet account).
    api = Api([access(index, T0 + timedelta(seconds=index)) for index in range(7)])
    shared = client(api)
    for minute, count, requests in ((0, 7, 2), (1, 5, 1), (2, 7, 2), (3, 8, 2), (4, 3, 1)):
        since = T0 + timedelta(minutes=minute)
        api.rows = [access(minute * 100 + index, since + timedelta(seconds=index)) for index in range(count)]
        asked = len(api.queries)
        reader = WindowReader(
            shared, ACCOUNT, LogType.ACCESS_REQUESTS, Window(since, since + timedelta(minutes=1)), 10, 100
        )
        assert len([record async for page in reader.pages() for record in page]) == count
        assert reader.complete
        assert len(api.queries) - asked == requests
    await shared.close()


async def test_rows_spread_evenly_over_the_window_waste_at_most_one_request_past_its_end() -> None:
    # Pages ahead are bounded by what the rest of the window would fill at the last page's density;
    # these rows end 18 s before the window does, so the estimate may ask for one page too many.
    even = [access(index, T0 + timedelta(seconds=index * 3)) for index in range(1195)]
    deep_api, alone_api = Api(even), Api(list(even))
    _, records, endpoint = await read_window(deep_api, depth=4)
    await read_window(alone_api, depth=1)
    assert len(records) == 1195
    assert endpoint.most == 4
    assert len(alone_api.queries) <= len(deep_api.queries) <= len(alone_api.queries) + 1


# --- the simulator's round trip and dashboard user --------------------------------------------------


async def test_the_simulator_answers_after_its_latency_scaled_like_every_simulated_duration() -> None:
    with pytest.raises(ValueError, match="latency"):
        SimulatorConfig(latency=-1.0)
    policy = RateLimit(requests=20, period=300.0, block=300.0, time_scale=10.0)
    async with Simulator(SimulatorConfig(latency=2.0, rate_limit=policy)) as simulator:
        async with httpx.AsyncClient() as http:
            started = time.monotonic()
            answer = await http.get(f"{simulator.base_url}/accounts/{'0' * 32}/access/logs/access_requests")
            assert time.monotonic() - started >= 0.2  # 2 simulated seconds at a time scale of 10
        assert answer.headers["Ratelimit"] == '"default";r=19;t=30'
        user = DashboardUser(simulator, "anonymous:127.0.0.1", requests=30, per_click=10)
        user.start()
        await asyncio.sleep(0.05)
        await user.stop()
        # The first click spent 10 of the 19 left; the budget is the same one the API counts.
        assert (user.spent, user.refused) == (10, 0)
        assert simulator.rate_limiter.spend("anonymous:127.0.0.1").remaining == 8
