"""Paging stop rules, windows, de-duplication and checkpoints, over an in-process transport."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.cloudflare.client import CloudflareClient, Credentials
from forwarder.cloudflare.paging import Window, WindowReader, api_time
from forwarder.cloudflare.ratelimit import RateLimiter
from forwarder.cloudflare.streams import SeenIds, Stream, StreamOptions
from forwarder.delivery import Ticket
from forwarder.records import LogType, Record
from forwarder.retry import Backoff

ACCOUNT = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def access(index: int, at: datetime) -> dict[str, Any]:
    return {"ray_id": f"{index:016x}", "created_at": at.isoformat().replace("+00:00", "Z")}


class Api:
    """Serves access requests the way the endpoint documents, or with a chosen flaw."""

    def __init__(self, rows: list[dict[str, Any]], *, ignore_page: bool = False, cap: int | None = None):
        self.rows = rows
        self.ignore_page = ignore_page
        self.cap = cap
        self.queries: list[list[tuple[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = list(request.url.params.multi_items())
        self.queries.append(query)
        params = dict(query)
        since, until = datetime.fromisoformat(params["since"]), datetime.fromisoformat(params["until"])
        rows = [row for row in self.rows if since <= datetime.fromisoformat(row["created_at"]) < until]
        size = int(params["per_page"])
        size = min(size, self.cap) if self.cap else size
        page = 1 if self.ignore_page else int(params["page"])
        body: dict[str, Any] = {
            "success": True,
            "errors": [],
            "messages": [],
            "result": rows[(page - 1) * size : page * size],
        }
        if "idp_id" in params:
            pages = max(1, -(-len(rows) // size))
            body["result_info"] = {
                "page": page,
                "per_page": size,
                "total_pages": pages,
                "count": len(body["result"]),
            }
        return httpx.Response(200, json=body)


def client(api: Api) -> CloudflareClient:
    return CloudflareClient(
        "https://api.example/client/v4",
        Credentials(token=SecretStr("t")),
        limiter=RateLimiter(10_000, 300),
        backoff=Backoff(0.001, 0.001),
        transport=httpx.MockTransport(api),
    )


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


def stream(
    api: Api, store: MemoryCheckpointStore, delivered: list[Record], now: datetime, **options: Any
) -> Stream:
    async def submit(records: Sequence[Record]) -> Ticket:
        delivered.extend(records)
        return Ticket(0)

    settings: dict[str, Any] = {
        "poll_interval": 1.0,
        "overlap": 60.0,
        "settle_delay": 30.0,
        "max_window": 3600.0,
        "page_size": 10,
        "max_pages": 100,
        "start": T0,
    } | options
    return Stream(
        client(api),
        ACCOUNT,
        LogType.ACCESS_REQUESTS,
        StreamOptions(**settings),
        store,
        submit,
        clock=lambda: now,
    )


async def read_and_commit(loop: Stream) -> None:
    committer = asyncio.create_task(loop.commit_loop())
    await loop.read(until_caught_up=True)
    await loop.flush()
    committer.cancel()


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
