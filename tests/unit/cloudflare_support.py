"""Shared by the reading tests: an in-process Cloudflare endpoint with chosen flaws, and a client on it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.pipeline.acknowledgement import Ticket
from forwarder.pipeline.checkpointer import Checkpointer
from forwarder.records import LogType, Record
from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.stream_state import StreamOptions, stream_key
from forwarder.source.streams import Stream

ACCOUNT = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def access(index: int, at: datetime) -> dict[str, Any]:
    return {"ray_id": f"{index:016x}", "created_at": at.isoformat().replace("+00:00", "Z")}


class Api:
    """Serves access requests the way the endpoint documents, or with a chosen flaw.

    ``cap``: pages hold at most this many rows whatever ``per_page`` asks (offsets follow it).
    ``ignore_page``: every answer is page 1.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        *,
        ignore_page: bool = False,
        cap: int | None = None,
        truncate: int | None = None,
    ):
        self.rows = rows
        self.ignore_page = ignore_page
        self.cap = cap
        # Pages offset by the size asked, cut to this many rows: the other way a server may cap.
        self.truncate = truncate
        self.queries: list[list[tuple[str, str]]] = []
        # Answers given first, one per request, before the endpoint answers for itself.
        self.faults: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = list(request.url.params.multi_items())
        self.queries.append(query)
        if self.faults:
            return self.faults.pop(0)
        params = dict(query)
        since, until = datetime.fromisoformat(params["since"]), datetime.fromisoformat(params["until"])
        rows = [row for row in self.rows if since <= datetime.fromisoformat(row["created_at"]) < until]
        # Ties in time keep the order rows were added in, as the real endpoint's order is stable.
        rows.sort(key=lambda row: datetime.fromisoformat(row["created_at"]))
        size = int(params["per_page"])
        size = min(size, self.cap) if self.cap else size
        page = 1 if self.ignore_page else int(params["page"])
        body: dict[str, Any] = {
            "success": True,
            "errors": [],
            "messages": [],
            "result": rows[(page - 1) * size : page * size][: self.truncate],
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


def client(api: Callable[[httpx.Request], httpx.Response]) -> CloudflareClient:
    return CloudflareClient(
        "https://api.example/client/v4",
        Credentials(token=SecretStr("t")),
        limiter=RateLimiter(10_000, 300),
        backoff=Backoff(0.001, 0.001),
        transport=httpx.MockTransport(api),
    )


class Clock:
    """A stream's clock that a test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def stream(
    api: Callable[[httpx.Request], httpx.Response],
    store: MemoryCheckpointStore,
    delivered: list[Record],
    now: datetime | Clock,
    *,
    shared: CloudflareClient | None = None,
    log_type: LogType = LogType.ACCESS_REQUESTS,
    **options: Any,
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
    chosen = StreamOptions(**settings)
    checkpointer = Checkpointer(
        stream_key(ACCOUNT, log_type),
        store,
        submit,
        reread_span=chosen.reread_span,
        checkpoint_ids=chosen.checkpoint_ids,
    )
    return Stream(
        shared if shared is not None else client(api),
        ACCOUNT,
        log_type,
        chosen,
        checkpointer,
        clock=now if isinstance(now, Clock) else lambda: now,
    )


async def read_and_commit(loop: Stream) -> None:
    """Read until caught up, with the stream's checkpointer committing behind, as a run does."""
    checkpointer = loop.outlet
    assert isinstance(checkpointer, Checkpointer)
    committer = asyncio.create_task(checkpointer.run(loop.progress))
    await loop.read(until_caught_up=True)
    await checkpointer.flush()
    committer.cancel()
