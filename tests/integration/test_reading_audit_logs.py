"""Account audit logs from the simulator, held to the OpenAPI contract: every row, once, whatever the
cursor paging does (short pages, a cursor the server ignores, odd answers, rows that appear late)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from fakes.cloudflare.config import DEFAULT_TOKEN
from fakes.cloudflare.envelope import ODD_SHAPES
from fakes.cloudflare.faults import Fault
from fakes.cloudflare.server import Simulator
from forwarder.records import LogType
from tests.support.forwarder_runs import (
    ACCOUNT,
    NOW,
    assert_nothing_lost,
    run_once,
    simulator_config,
)

AUDIT_ONLY = {"log_types": [LogType.AUDIT_LOGS], "hours": 1}


def audit_simulator(per_minute: float = 20) -> Simulator:
    return Simulator(simulator_config(hours=1, audit_per_minute=per_minute))


async def test_every_row_is_read_once_with_the_documented_query(tmp_path: Path) -> None:
    simulator = audit_simulator()
    forwarder, output, config = await run_once(simulator, tmp_path, page_size=100, **AUDIT_ONLY)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert len(shipped) > 1000
    assert max(shipped.values()) == 1
    queries = [dict(request.query) for request in simulator.requests if request.path.endswith("/logs/audit")]
    assert queries
    assert all(query.keys() <= {"direction", "since", "before", "limit", "cursor"} for query in queries)
    assert any("cursor" in query for query in queries)
    # run_once asserted that no request broke the contract (simulator.violations == []).


@pytest.mark.parametrize("cap", [7, 99])
async def test_pages_shorter_than_asked_lose_nothing(cap: int, tmp_path: Path) -> None:
    simulator = audit_simulator()
    simulator.faults.add(Fault.page_cap(cap))
    forwarder, output, config = await run_once(simulator, tmp_path, page_size=100, **AUDIT_ONLY)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    # A cursor says where the next page starts: no cap is learned, nothing is read twice.
    assert forwarder.client.page_sizes.cap("audit_logs") is None


async def test_a_server_that_ignores_the_cursor_cannot_make_the_stream_loop(tmp_path: Path) -> None:
    simulator = audit_simulator()
    simulator.faults.add(Fault.ignore_page())
    forwarder, output, config = await run_once(simulator, tmp_path, page_size=50, **AUDIT_ONLY)
    shipped = assert_nothing_lost(forwarder, simulator, output, config)
    assert max(shipped.values()) == 1
    assert all(stream.progress.unreadable_seconds == 0 for stream in forwarder.streams)
    # Two requests per page of rows (the page, then the repeated cursor), not a loop.
    assert simulator.stats.requests_by_endpoint["audit_logs"] < 2 * len(shipped) / 50 + 20


@pytest.mark.parametrize("shape", ODD_SHAPES)
async def test_odd_envelopes_are_retried_and_lose_nothing(shape: str, tmp_path: Path) -> None:
    simulator = audit_simulator(per_minute=5)
    simulator.faults.add(Fault.odd_envelope(shape, count=2, path="*/logs/audit"))
    forwarder, output, config = await run_once(simulator, tmp_path, **AUDIT_ONLY)
    assert max(assert_nothing_lost(forwarder, simulator, output, config).values()) == 1
    assert simulator.stats.faults_applied["odd_envelope"] == 2


async def test_rows_at_a_window_edge_and_rows_that_appear_late_are_read(tmp_path: Path) -> None:
    simulator = audit_simulator(per_minute=2)
    # Exactly on whole seconds, where an exclusive `since` would leave a row out of the next window.
    # The windows start at NOW - 60, 40 and 20 minutes (FORWARDER_MAX_WINDOW=1200, no overlap).
    edges = [NOW - timedelta(minutes=minutes) for minutes in (40, 20)]
    simulator.add_records(
        ACCOUNT,
        "audit_logs",
        [
            {"id": f"edge{index}", "action": {"time": moment.isoformat(), "type": "update"}}
            for index, moment in enumerate(edges)
        ],
    )
    forwarder, output, config = await run_once(simulator, tmp_path, max_window=1200, overlap=0, **AUDIT_ONLY)
    assert max(assert_nothing_lost(forwarder, simulator, output, config).values()) == 1


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"since": "2026-08-20T00:00:00Z"}, "before: required but missing"),
        ({"since": "2026-08-20", "before": "2026-08-21", "limit": "1001"}, "greater than the maximum 1000"),
        (
            {"since": "2026-08-20", "before": "2026-08-21", "per_page": "10"},
            "unknown query parameter 'per_page'",
        ),
        (
            {"since": "2026-08-20", "before": "2026-08-21", "cursor": "bm90LWEtY3Vyc29y"},
            "not a cursor of this query",
        ),
    ],
)
async def test_the_simulator_holds_audit_queries_to_the_contract(query: dict[str, str], problem: str) -> None:
    simulator = audit_simulator(per_minute=1)
    base_url = await simulator.start()
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
            answer = await client.get(f"{base_url}/accounts/{ACCOUNT}/logs/audit", params=query)
    finally:
        await simulator.stop()
    assert answer.status_code == 400
    assert problem in answer.text


async def test_the_simulator_pages_by_cursor_to_an_answer_without_one() -> None:
    simulator = audit_simulator(per_minute=1)
    base_url = await simulator.start()
    query = {"since": (NOW - timedelta(hours=2)).isoformat(), "before": NOW.isoformat(), "limit": "25"}
    pages: list[list[object]] = []
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client:
            while True:
                body = (await client.get(f"{base_url}/accounts/{ACCOUNT}/logs/audit", params=query)).json()
                pages.append(body["result"])
                if "cursor" not in body["result_info"]:
                    break
                query["cursor"] = body["result_info"]["cursor"]
    finally:
        await simulator.stop()
    rows = [row for page in pages for row in page]
    assert len(rows) == len(simulator.records(ACCOUNT, "audit_logs")) == 60
    assert [len(page) for page in pages] == [25, 25, 10]
