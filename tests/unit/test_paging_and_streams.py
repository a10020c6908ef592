"""Paging stop rules, windows, de-duplication and checkpoints, over an in-process transport."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, Record
from forwarder.source.paging import Window, WindowReader, api_time
from forwarder.source.remembered import SeenIds
from tests.unit.cloudflare_support import ACCOUNT, T0, Api, access, client, read_and_commit, stream


async def read(
    api: Api,
    *,
    page_size: int = 10,
    max_pages: int = 100,
    log_type: LogType = LogType.ACCESS_REQUESTS,
    idp_ids: Sequence[str] = (),
) -> tuple[WindowReader, list[dict[str, Any]]]:
    reader = WindowReader(
        client(api), ACCOUNT, log_type, Window(T0, T0 + timedelta(hours=1)), page_size, max_pages, idp_ids
    )
    rows = [dict(record.data) async for page in reader.pages() for record in page]
    return reader, rows


async def test_pages_until_a_short_page() -> None:
    api = Api([access(i, T0 + timedelta(seconds=i)) for i in range(25)])
    reader, rows = await read(api)
    assert len(rows) == 25
    assert reader.complete
    assert reader.pages_read == 3
    first = dict(api.queries[0])
    assert first["direction"] == "asc"
    assert first["since"] == api_time(T0)
    assert first["per_page"] == first["limit"] == "10"


async def test_a_full_last_page_costs_one_empty_page() -> None:
    api = Api([access(i, T0 + timedelta(seconds=i)) for i in range(20)])
    reader, rows = await read(api)
    assert len(rows) == 20
    assert reader.complete
    assert reader.pages_read == 3


async def test_a_server_that_ignores_page_cannot_make_it_loop() -> None:
    api = Api([access(i, T0 + timedelta(seconds=i)) for i in range(25)], ignore_page=True)
    reader, rows = await read(api)
    assert len(rows) == 10
    assert not reader.complete
    assert reader.pages_read == 2
    assert reader.last_time == T0 + timedelta(seconds=9)


async def test_the_page_cap_ends_the_window_at_the_last_record() -> None:
    api = Api([access(i, T0 + timedelta(seconds=i)) for i in range(50)])
    reader, rows = await read(api, max_pages=2)
    assert len(rows) == 20
    assert not reader.complete
    assert reader.last_time == T0 + timedelta(seconds=19)


async def test_scim_stops_on_total_pages_and_repeats_idp_ids() -> None:
    api = Api([access(i, T0 + timedelta(seconds=i)) for i in range(20)])
    reader, rows = await read(api, log_type=LogType.SCIM_UPDATES, idp_ids=["idp-a", "idp-b"])
    assert len(rows) == 20
    assert reader.pages_read == 2
    assert [value for key, value in api.queries[0] if key == "idp_id"] == ["idp-a", "idp-b"]
    assert "limit" not in dict(api.queries[0])


async def test_a_backfill_goes_window_by_window_and_commits_each() -> None:
    rows = [access(i, T0 + timedelta(minutes=i)) for i in range(180)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    delivered: list[Record] = []
    now = T0 + timedelta(hours=3, seconds=30)
    await read_and_commit(stream(api, store, delivered, now))
    assert sorted(record.data["ray_id"] for record in delivered) == sorted(row["ray_id"] for row in rows)
    assert len(delivered) == 180  # the overlap re-read nothing twice
    assert store.positions[f"{ACCOUNT}/access_requests"] == T0 + timedelta(hours=3)


async def test_late_records_inside_the_overlap_are_found_and_repeats_dropped() -> None:
    rows = [access(i, T0 + timedelta(seconds=i)) for i in range(10)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    delivered: list[Record] = []
    loop = stream(api, store, delivered, T0 + timedelta(seconds=60))
    position = await loop.poll_once(T0, T0 + timedelta(seconds=30))
    assert position == T0 + timedelta(seconds=30)
    # A record stamped 20 s appears only now (late); the next window re-reads the overlap.
    api.rows.append(access(99, T0 + timedelta(seconds=20)))
    await loop.poll_once(position, T0 + timedelta(seconds=40))
    assert sorted(record.data["ray_id"] for record in delivered) == sorted(row["ray_id"] for row in api.rows)
    assert loop.progress.duplicates == 10


async def test_a_restart_resumes_from_the_checkpoint() -> None:
    rows = [access(i, T0 + timedelta(minutes=i)) for i in range(120)]
    api = Api(rows)
    store = MemoryCheckpointStore()
    await store.commit(f"{ACCOUNT}/access_requests", T0 + timedelta(hours=1))
    delivered: list[Record] = []
    await read_and_commit(stream(api, store, delivered, T0 + timedelta(hours=2, minutes=1), overlap=0.0))
    assert [record.data["ray_id"] for record in delivered] == [row["ray_id"] for row in rows[60:]]


def test_seen_ids_are_bounded() -> None:
    seen = SeenIds(limit=100)
    for index in range(1000):
        seen.add(str(index), T0 + timedelta(seconds=index))
    assert len(seen) <= 100
    assert "999" in seen
    seen.forget_before(T0 + timedelta(seconds=995))
    assert len(seen) == 5
