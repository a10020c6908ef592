"""Reading account audit logs by cursor without losing a row (docs/reading.md, "Cursor paging").

The endpoint below serves ``GET /accounts/{id}/logs/audit`` as the OpenAPI spec documents it (``since``
and ``before`` exclusive, ``limit``, ``result_info.cursor`` until the last page), or with a chosen flaw:
short pages, empty pages that still carry a cursor, a cursor on the last page, a cursor it ignores.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType, Record
from forwarder.source.errors import CloudflareAuthError
from forwarder.source.paging import Window, WindowReader
from tests.unit.cloudflare_support import ACCOUNT, T0, Clock, client, read_and_commit, stream


def audit(index: int, at: datetime) -> dict[str, Any]:
    return {
        "id": f"{index:032x}",
        "action": {"time": at.isoformat().replace("+00:00", "Z"), "type": "update"},
    }


def _time(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["action"]["time"])


class AuditApi:
    """``cap``: pages hold at most this many rows (the cursor still points past them).
    ``empty_every``: every n-th answer is an empty page with a new cursor to the same place.
    ``cursor_on_last``: the last page carries a cursor too, to an empty page without one.
    ``ignore_cursor``: every answer is the first page, with the first page's cursor.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        *,
        cap: int | None = None,
        empty_every: int = 0,
        cursor_on_last: bool = False,
        ignore_cursor: bool = False,
    ) -> None:
        self.rows = rows
        self.cap = cap
        self.empty_every = empty_every
        self.cursor_on_last = cursor_on_last
        self.ignore_cursor = ignore_cursor
        self.queries: list[list[tuple[str, str]]] = []
        self.paths: list[str] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = list(request.url.params.multi_items())
        self.queries.append(query)
        self.paths.append(request.url.path)
        if self.status != 200:
            return httpx.Response(
                self.status, json={"success": False, "errors": [{"code": 10000, "message": "x"}]}
            )
        params = dict(query)
        since = datetime.fromisoformat(params["since"])
        before = datetime.fromisoformat(params["before"])
        rows = sorted((row for row in self.rows if since < _time(row) < before), key=_time)
        offset = 0 if self.ignore_cursor or "cursor" not in params else _offset(params["cursor"])
        size = int(params["limit"])
        size = min(size, self.cap) if self.cap else size
        if self.empty_every and len(self.queries) % self.empty_every == 0:
            page: list[dict[str, Any]] = []
            following = offset
        else:
            page = rows[offset : offset + size]
            following = offset + len(page)
        info: dict[str, Any] = {"count": str(len(page))}
        if following < len(rows) or (self.cursor_on_last and page):
            # Opaque, and new on every answer but the ignoring server's.
            made = 0 if self.ignore_cursor else len(self.queries)
            info["cursor"] = base64.b64encode(f"{following}:{made}".encode()).decode()
        body = {"success": True, "errors": [], "result": page, "result_info": info}
        return httpx.Response(200, json=body)


def _offset(cursor: str) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[0])


def ids(records: list[Record]) -> list[str]:
    return sorted(str(record.data["id"]) for record in records)


def audit_stream(api: AuditApi, delivered: list[Record], now: datetime | Clock, **options: Any) -> Any:
    return stream(api, MemoryCheckpointStore(), delivered, now, log_type=LogType.AUDIT_LOGS, **options)


async def read_window(
    api: AuditApi, window: Window, page_size: int = 10, max_pages: int = 100
) -> WindowReader:
    reader = WindowReader(client(api), ACCOUNT, LogType.AUDIT_LOGS, window, page_size, max_pages)
    async for _ in reader.pages():
        pass
    return reader


async def test_the_query_is_the_documented_one_and_cursors_are_followed_to_the_end() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index * 5 + 1)) for index in range(95)]
    api = AuditApi(rows)
    delivered: list[Record] = []
    loop = audit_stream(api, delivered, T0 + timedelta(hours=1), overlap=0.0)
    await read_and_commit(loop)
    assert ids(delivered) == sorted(row["id"] for row in rows)
    assert set(api.paths) == {f"/client/v4/accounts/{ACCOUNT}/logs/audit"}
    first, second = dict(api.queries[0]), dict(api.queries[1])
    assert set(first) == {"direction", "since", "before", "limit"}
    assert first["direction"] == "asc"
    assert first["limit"] == "10"
    # `since` is "newer than": asked a second before the window, so a row at its start is not left out.
    assert first["since"] == "2026-10-31T23:59:59Z"
    assert set(second) == {"direction", "since", "before", "limit", "cursor"}
    # Ten pages of the first window, the last without a cursor: no extra request.
    assert sum("cursor" not in dict(query) for query in api.queries) == len(
        {dict(query)["since"] for query in api.queries}
    )


async def test_a_row_at_the_window_start_is_read_and_rows_before_it_are_dropped() -> None:
    rows = [audit(1, T0 - timedelta(milliseconds=500)), audit(2, T0), audit(3, T0 + timedelta(seconds=1))]
    reader = await read_window_collecting(AuditApi(rows), Window(T0, T0 + timedelta(minutes=1)))
    assert reader == [f"{2:032x}", f"{3:032x}"]


async def read_window_collecting(api: AuditApi, window: Window) -> list[str]:
    reader = WindowReader(client(api), ACCOUNT, LogType.AUDIT_LOGS, window, 10, 100)
    found: list[Record] = []
    async for records in reader.pages():
        found.extend(records)
    assert reader.complete
    return ids(found)


async def test_short_pages_with_a_cursor_are_not_the_end() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index + 1)) for index in range(100)]
    api = AuditApi(rows, cap=3)
    found = await read_window_collecting(api, Window(T0, T0 + timedelta(minutes=5)))
    assert found == sorted(row["id"] for row in rows)
    assert len(api.queries) == 34


async def test_empty_pages_with_a_cursor_are_followed() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index + 1)) for index in range(50)]
    api = AuditApi(rows, empty_every=2)
    found = await read_window_collecting(api, Window(T0, T0 + timedelta(minutes=5)))
    assert found == sorted(row["id"] for row in rows)


async def test_a_cursor_on_the_last_page_costs_one_empty_page() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index + 1)) for index in range(20)]
    api = AuditApi(rows, cursor_on_last=True)
    reader = await read_window(api, Window(T0, T0 + timedelta(minutes=5)))
    assert reader.complete
    assert reader.pages_read == 3
    assert reader.stop_reason == "last page (3, no cursor)"


async def test_a_cursor_handed_back_again_ends_the_window_at_its_last_row_and_nothing_is_lost() -> None:
    # Every answer is page 1: each window reads one page and the next starts at its last second.
    rows = [audit(index, T0 + timedelta(seconds=index * 3 + 1)) for index in range(60)]
    api = AuditApi(rows, ignore_cursor=True)
    reader = await read_window(api, Window(T0, T0 + timedelta(minutes=5)))
    assert not reader.complete
    assert "ignored `cursor`" in reader.stop_reason
    assert reader.pages_read == 2
    delivered: list[Record] = []
    loop = audit_stream(api, delivered, T0 + timedelta(minutes=10), overlap=0.0)
    await read_and_commit(loop)
    assert ids(delivered) == sorted(row["id"] for row in rows)
    assert loop.progress.unreadable_seconds == 0
    # Progress, not a loop: two requests per page of rows.
    assert len(api.queries) <= 2 + 2 * 60 // 10 * 2


async def test_a_cursor_that_repeats_on_an_empty_page_ends_the_window() -> None:
    api = AuditApi([], ignore_cursor=True, cursor_on_last=True)
    api.rows = [audit(1, T0 + timedelta(seconds=1))]
    reader = await read_window(api, Window(T0, T0 + timedelta(minutes=5)), page_size=1)
    assert not reader.complete
    assert reader.pages_read == 2


async def test_the_page_cap_ends_a_window_of_endless_cursors() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index + 1)) for index in range(100)]
    reader = await read_window(AuditApi(rows, cap=1), Window(T0, T0 + timedelta(minutes=5)), max_pages=5)
    assert not reader.complete
    assert reader.stop_reason == "page cap FORWARDER_MAX_PAGES=5 reached"
    assert reader.last_time == T0 + timedelta(seconds=5)


async def test_rows_later_than_the_overlap_are_delivered_by_the_trailing_reread() -> None:
    rows = [audit(index, T0 + timedelta(seconds=index * 10 + 1)) for index in range(30)]
    api = AuditApi(rows)
    delivered: list[Record] = []
    clock = Clock(T0 + timedelta(minutes=6))
    loop = audit_stream(api, delivered, clock, overlap=60.0, late_horizon=900.0, reread_interval=300.0)
    position = await loop.poll_once(T0, T0 + timedelta(minutes=5, seconds=30))
    assert len(delivered) == 30
    api.rows.append(audit(99, T0 + timedelta(minutes=1, seconds=5)))
    clock.now += timedelta(minutes=5)
    position = await loop.poll_once(position, T0 + timedelta(minutes=10, seconds=30))
    assert len(delivered) == 30
    assert await loop.reread_recent(position) == 1
    assert ids(delivered) == sorted(row["id"] for row in api.rows)
    assert await loop.reread_recent(position) == 0


async def test_a_403_names_the_account_settings_permission() -> None:
    api = AuditApi([])
    api.status = 403
    loop = audit_stream(api, [], datetime.now(UTC))
    with pytest.raises(CloudflareAuthError) as raised:
        await loop.probe()
    assert "Account Settings Read" in str(raised.value)
    assert "account audit logs" in str(raised.value)
