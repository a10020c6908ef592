"""Reading Cloudflare without losing a row when the API behaves in ordinary but unexpected ways.

Silent page caps, rows that appear late, ties bigger than a page on a server that ignores `page`,
restarts, and odd envelopes: each test accounts for every row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, Record
from forwarder.source.paging import Window, WindowReader
from tests.unit.cloudflare_support import ACCOUNT, T0, Api, Clock, access, client, read_and_commit, stream


def ray_ids(records: list[Record]) -> list[str]:
    return sorted(str(record.data["ray_id"]) for record in records)


def asked_sizes(api: Api) -> list[int]:
    return [int(dict(query)["per_page"]) for query in api.queries]


@pytest.mark.parametrize("cap", [100, 250, 999])
async def test_a_silent_page_cap_loses_nothing(cap: int, caplog: pytest.LogCaptureFixture) -> None:
    # Three hours of rows: three windows, each with more rows than one capped page.
    rows = [access(index, T0 + timedelta(seconds=index * 2)) for index in range(5400)]
    api = Api(rows, cap=cap)
    store = MemoryCheckpointStore()
    delivered: list[Record] = []
    loop = stream(api, store, delivered, T0 + timedelta(hours=3, minutes=1), page_size=1000, overlap=0.0)
    with caplog.at_level(logging.WARNING):
        await read_and_commit(loop)
    assert ray_ids(delivered) == sorted(row["ray_id"] for row in rows)
    assert loop.client.page_sizes.cap("access_requests") == cap
    warnings = [record for record in caplog.records if "FORWARDER_PAGE_SIZE" in record.getMessage()]
    assert len(warnings) == 1
    # The cap costs one request to find (page 2 asked for at the size asked); then it is asked for.
    assert asked_sizes(api)[:2] == [1000, 1000]
    assert set(asked_sizes(api)[2:]) == {cap}


@pytest.mark.parametrize("cap", [100, 250, 999])
async def test_a_cap_that_pages_by_the_size_asked_loses_nothing(cap: int) -> None:
    # Page N holds rows (N-1)*1000 onwards, cut to `cap`: rows between the cap and 1000 are in no page
    # at the size asked. Only reading again at the cap finds them.
    rows = [access(index, T0 + timedelta(seconds=index * 2)) for index in range(5400)]
    api = Api(rows, truncate=cap)
    delivered: list[Record] = []
    loop = stream(
        api,
        MemoryCheckpointStore(),
        delivered,
        T0 + timedelta(hours=3, minutes=1),
        page_size=1000,
        overlap=0.0,
    )
    await read_and_commit(loop)
    assert ray_ids(delivered) == sorted(row["ray_id"] for row in rows)
    assert len(delivered) == len(rows)  # the pages read twice delivered nothing twice


async def test_a_short_page_costs_one_more_request_until_the_size_is_known() -> None:
    api = Api([access(index, T0 + timedelta(seconds=index)) for index in range(5)])
    shared = client(api)
    window = Window(T0, T0 + timedelta(minutes=1))
    reader = WindowReader(shared, ACCOUNT, LogType.ACCESS_REQUESTS, window, 10, 100)
    assert len([record async for page in reader.pages() for record in page]) == 5
    assert reader.complete
    assert len(api.queries) == 2  # the short page, then an empty one: no cap
    # A full page proves the server honours the size asked: from then on a short page is the last.
    api.rows += [access(100 + index, T0 + timedelta(minutes=1, seconds=index)) for index in range(13)]
    reader = WindowReader(
        shared,
        ACCOUNT,
        LogType.ACCESS_REQUESTS,
        Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)),
        10,
        100,
    )
    assert len([record async for page in reader.pages() for record in page]) == 13
    assert len(api.queries) == 4
    reader = WindowReader(shared, ACCOUNT, LogType.ACCESS_REQUESTS, window, 10, 100)
    assert len([record async for page in reader.pages() for record in page]) == 5
    assert len(api.queries) == 5


async def test_scim_reads_on_while_total_pages_says_so_whatever_a_page_holds() -> None:
    api = Api([access(index, T0 + timedelta(seconds=index)) for index in range(20)], cap=7)
    reader = WindowReader(
        client(api), ACCOUNT, LogType.SCIM_UPDATES, Window(T0, T0 + timedelta(hours=1)), 10, 100, ["idp"]
    )
    rows = [record async for page in reader.pages() for record in page]
    assert len(rows) == 20
    assert reader.pages_read == 3
    assert reader.stop_reason == "last page (3 of 3)"


async def test_rows_later_than_the_overlap_are_delivered_by_the_trailing_reread() -> None:
    rows = [access(index, T0 + timedelta(seconds=index * 10)) for index in range(30)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    delivered: list[Record] = []
    clock = Clock(T0 + timedelta(minutes=6))
    loop = stream(api, store, delivered, clock, overlap=60.0, late_horizon=900.0, reread_interval=300.0)
    position = await loop.poll_once(T0, T0 + timedelta(minutes=5, seconds=30))
    assert len(delivered) == 30
    # Seen eight minutes after its own time: beyond settle delay and overlap.
    api.rows.append(access(99, T0 + timedelta(minutes=1, seconds=5)))
    clock.now += timedelta(minutes=5)
    position = await loop.poll_once(position, T0 + timedelta(minutes=10, seconds=30))
    assert len(delivered) == 30  # the overlap did not reach it
    assert await loop.reread_recent(position) == 1
    assert ray_ids(delivered) == sorted(row["ray_id"] for row in api.rows)
    assert loop.progress.late == 1
    # Steady state: the next re-read finds nothing new and delivers nothing twice.
    assert await loop.reread_recent(position) == 0
    assert len(delivered) == 31


async def test_a_row_as_late_as_the_horizon_is_found_when_it_appears_just_after_a_reread() -> None:
    # FORWARDER_LATE_HORIZON promises rows up to that late. One that appears a second after a re-read
    # waits a whole interval for the next: that re-read must reach back the horizon plus the interval
    # (with the horizon alone, rows 660-900 s late were missed at the defaults).
    rows = [access(index, T0 + timedelta(minutes=index)) for index in range(40)]
    api = Api(rows)
    delivered: list[Record] = []
    clock = Clock(T0 + timedelta(minutes=41))
    options: dict[str, Any] = {"overlap": 120.0, "settle_delay": 60.0, "late_horizon": 900.0}
    loop = stream(api, MemoryCheckpointStore(), delivered, clock, reread_interval=300.0, **options)
    position = await loop.poll_once(T0, T0 + timedelta(minutes=40))
    assert await loop.reread_recent(position) == 0
    late = access(99, clock.now + timedelta(seconds=1) - timedelta(seconds=850))
    api.rows.append(late)
    clock.now += timedelta(seconds=300)
    position = await loop.poll_once(position, clock.now - timedelta(seconds=60))
    assert late["ray_id"] not in ray_ids(delivered)  # beyond settle delay and overlap
    assert await loop.reread_recent(position) == 1
    assert late["ray_id"] in ray_ids(delivered)


async def test_rows_beyond_the_horizon_are_not_read() -> None:
    # The documented limit: the trailing re-read goes back FORWARDER_LATE_HORIZON (plus one re-read
    # interval, so that every row up to the horizon is found), no further.
    api = Api([access(index, T0 + timedelta(minutes=index)) for index in range(30)])
    delivered: list[Record] = []
    loop = stream(api, MemoryCheckpointStore(), delivered, T0 + timedelta(minutes=31), late_horizon=600.0)
    position = await loop.poll_once(T0, T0 + timedelta(minutes=30))
    api.rows.append(access(99, T0 + timedelta(minutes=5)))
    assert await loop.reread_recent(position) == 0
    assert len(delivered) == 30


async def test_a_graceful_restart_delivers_nothing_twice_and_finds_what_appeared_meanwhile() -> None:
    rows = [access(index, T0 + timedelta(seconds=index * 20)) for index in range(60)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    first: list[Record] = []
    options: dict[str, Any] = {"overlap": 120.0, "late_horizon": 900.0, "settle_delay": 30.0}
    await read_and_commit(stream(api, store, first, T0 + timedelta(minutes=20), **options))
    assert len(first) == 59  # the last is within the settle delay
    # While stopped: a late row inside the horizon, and new rows.
    api.rows.append(access(500, T0 + timedelta(minutes=15)))
    api.rows += [access(600 + index, T0 + timedelta(minutes=20, seconds=index)) for index in range(5)]
    second: list[Record] = []
    restarted = stream(api, store, second, T0 + timedelta(minutes=25), **options)
    await read_and_commit(restarted)
    late_and_new = [f"{59:016x}", f"{500:016x}", *(f"{600 + index:016x}" for index in range(5))]
    assert ray_ids(second) == sorted(late_and_new)
    assert restarted.progress.late == 1
    assert restarted.progress.duplicates > 0  # the overlap and the horizon were read again


async def test_past_the_kept_ids_a_restart_repeats_rather_than_loses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [access(index, T0 + timedelta(seconds=index * 10)) for index in range(60)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    options: dict[str, Any] = {"overlap": 120.0, "late_horizon": 900.0, "checkpoint_ids": 10}
    first: list[Record] = []
    with caplog.at_level(logging.WARNING):
        await read_and_commit(stream(api, store, first, T0 + timedelta(minutes=11), **options))
    assert any("FORWARDER_CHECKPOINT_IDS" in record.getMessage() for record in caplog.records)
    second: list[Record] = []
    await read_and_commit(stream(api, store, second, T0 + timedelta(minutes=12), **options))
    # The ten newest are known; older ones in the span come again. Nothing is missing.
    newest = {f"{index:016x}" for index in range(50, 60)}
    assert not newest & set(ray_ids(second))
    assert 0 < len(second) <= 50


async def test_a_tie_bigger_than_a_page_on_a_server_that_ignores_page_is_read_by_growing_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tie = T0 + timedelta(seconds=5)
    rows = [access(index, tie) for index in range(30)]
    rows += [access(100 + index, T0 + timedelta(seconds=10 + index)) for index in range(10)]
    api = Api(rows, ignore_page=True)
    delivered: list[Record] = []
    loop = stream(api, MemoryCheckpointStore(), delivered, T0 + timedelta(minutes=2), overlap=0.0)
    with caplog.at_level(logging.WARNING):
        await read_and_commit(loop)
    assert ray_ids(delivered) == sorted(row["ray_id"] for row in rows)
    assert loop.progress.unreadable_seconds == 0
    assert len(api.queries) < 20
    assert any("bigger pages" in record.getMessage() for record in caplog.records)


async def test_a_tie_past_the_largest_page_is_skipped_loudly_and_the_stream_moves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tie = T0 + timedelta(seconds=5)
    rows = [access(index, tie) for index in range(50)]
    after = [access(100 + index, T0 + timedelta(seconds=10 + index)) for index in range(10)]
    api = Api(rows + after, ignore_page=True)
    delivered: list[Record] = []
    loop = stream(
        api, MemoryCheckpointStore(), delivered, T0 + timedelta(minutes=2), overlap=0.0, max_page_size=20
    )
    with caplog.at_level(logging.WARNING):
        await read_and_commit(loop)
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "rows lost" in errors[0].getMessage()
    assert loop.progress.unreadable_seconds == 1
    # The first 20 rows of the tie (one page at the largest size), and every row after it.
    assert ray_ids(delivered) == sorted(
        [row["ray_id"] for row in rows[:20]] + [row["ray_id"] for row in after]
    )
    assert len(api.queries) < 20


async def test_an_odd_envelope_is_retried_and_its_window_is_not_committed_empty() -> None:
    rows = [access(index, T0 + timedelta(seconds=index)) for index in range(15)]
    api = Api(rows)
    api.faults = [
        httpx.Response(200, json={"success": True, "errors": [], "result": {"unexpected": 1}}),
        httpx.Response(200, json={"errors": [], "messages": [], "result": []}),
        httpx.Response(200, content=b""),
    ]
    delivered: list[Record] = []
    store = MemoryCheckpointStore()
    loop = stream(api, store, delivered, T0 + timedelta(minutes=2), overlap=0.0)
    await read_and_commit(loop)
    assert ray_ids(delivered) == sorted(row["ray_id"] for row in rows)
    assert store.positions[f"{ACCOUNT}/access_requests"] == T0 + timedelta(minutes=1, seconds=30)
