"""Ordinary-looking answers that are not: a silent page cap, odd 200 envelopes, unspent rate-limit headers."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fakes.cloudflare import (
    ACCESS_REQUESTS,
    DEFAULT_TOKEN,
    SCIM_UPDATES,
    Fault,
    FaultKind,
    ManualClock,
    Simulator,
    SimulatorConfig,
)
from fakes.cloudflare.timestamps import parse_rfc3339

pytestmark = pytest.mark.integration

ACCOUNT = "0123456789abcdef0123456789abcdef"
END = datetime(2026, 1, 1, tzinfo=UTC)
ACCESS_PATH = f"/accounts/{ACCOUNT}/access/logs/access_requests"
SCIM_PATH = f"/accounts/{ACCOUNT}/access/logs/scim/updates"
IDP_PATH = f"/accounts/{ACCOUNT}/access/identity_providers"
VALID_EMPTY_PAGE = b'{"success":true,"errors":[],"messages":[],"result":[]}'
UNSPENT_HEADERS = {
    "Ratelimit": '"default";r=1190;t=280',
    "Ratelimit-Policy": '"default";q=1200;w=300',
    "X-RateLimit-Limit": "1200",
    "X-RateLimit-Remaining": "1190",
    "X-RateLimit-Reset": "280",
}


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        accounts=[ACCOUNT],
        seed=3,
        start=END - timedelta(hours=2),
        end=END,
        access_per_minute=6.0,
        scim_per_minute=3.0,
    )
    async with Simulator(config, clock=ManualClock(END.timestamp() + 3600)) as simulator:
        yield simulator


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as client:
        yield client


@pytest.fixture
async def control(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.control_url) as control:
        yield control


async def rows(
    client: httpx.AsyncClient, path: str, **params: str | int | list[str]
) -> list[dict[str, object]]:
    response = await client.get(path, params=params)
    assert response.status_code == 200
    result: list[dict[str, object]] = response.json()["result"]
    return result


def created_in(record: dict[str, object], since: int, until: int) -> bool:
    moment = parse_rfc3339(str(record["created_at"]))
    assert moment is not None
    return since <= moment < until


# -- silent page cap -------------------------------------------------------------------------------------


async def test_page_cap_clamps_per_page_and_pages_by_the_cap(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    truth = simulator.records(ACCOUNT, ACCESS_REQUESTS)
    simulator.faults.add(Fault.page_cap(10))
    assert await rows(client, ACCESS_PATH, per_page=100, direction="asc") == truth[:10]
    assert await rows(client, ACCESS_PATH, per_page=100, direction="asc", page=2) == truth[10:20]
    assert await rows(client, ACCESS_PATH, per_page=100) == truth[::-1][:10], "desc is the default"
    assert len(await rows(client, ACCESS_PATH, limit=50)) == 10, "a lone limit is capped too"
    assert len(await rows(client, ACCESS_PATH, per_page=4)) == 4, "smaller pages are left alone"
    assert simulator.violations == []


async def test_page_cap_walk_reads_every_row_of_the_window_once(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    truth = simulator.records(ACCOUNT, ACCESS_REQUESTS)
    since_text, until_text = str(truth[5]["created_at"]), str(truth[203]["created_at"])
    since, until = parse_rfc3339(since_text), parse_rfc3339(until_text)
    assert since is not None
    assert until is not None
    expected = [record for record in truth if created_in(record, since, until)]
    assert len(expected) > 150
    simulator.faults.add(Fault.page_cap(7))
    collected: list[dict[str, object]] = []
    page = 1
    while True:
        window = {"since": since_text, "until": until_text, "direction": "asc"}
        result = await rows(client, ACCESS_PATH, **window, per_page=1000, page=page)
        collected.extend(result)
        if len(result) < 7:
            break
        page += 1
    assert collected == expected
    assert page == math.ceil((len(expected) + 1) / 7)
    assert simulator.stats.faults_applied["page_cap"] == page


async def test_page_cap_counts_and_paths(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.faults.add(Fault.page_cap(3, count=1, path="*/access_requests"))
    idp_ids = simulator.scim_provider_ids(ACCOUNT)
    assert len(await rows(client, SCIM_PATH, idp_id=idp_ids, per_page=50)) == 50
    assert len(await rows(client, ACCESS_PATH, per_page=50)) == 3
    assert len(await rows(client, ACCESS_PATH, per_page=50)) == 50
    assert simulator.faults.active() == []


async def test_scim_page_cap_reports_the_capped_size(simulator: Simulator, client: httpx.AsyncClient) -> None:
    idp_ids = simulator.scim_provider_ids(ACCOUNT)
    truth = simulator.records(ACCOUNT, SCIM_UPDATES)
    # The scanning path (a subset of providers) must page by the cap as well; its rows, uncapped:
    one_provider = await rows(client, SCIM_PATH, idp_id=idp_ids[0], per_page=1000, direction="asc")
    assert len(one_provider) > 100
    simulator.faults.add(Fault.page_cap(50, path="*/scim/updates"))
    first = (
        await client.get(SCIM_PATH, params={"idp_id": idp_ids, "per_page": 1000, "direction": "asc"})
    ).json()
    second = (
        await client.get(
            SCIM_PATH, params={"idp_id": idp_ids, "per_page": 1000, "direction": "asc", "page": 2}
        )
    ).json()
    assert first["result"] == truth[:50]
    assert second["result"] == truth[50:100]
    assert first["result_info"] == {
        "count": 50,
        "page": 1,
        "per_page": 50,
        "total_count": len(truth),
        "total_pages": math.ceil(len(truth) / 50),
    }
    assert second["result_info"]["page"] == 2
    narrow = (
        await client.get(
            SCIM_PATH, params={"idp_id": idp_ids[0], "per_page": 1000, "direction": "asc", "page": 2}
        )
    ).json()
    assert narrow["result"] == one_provider[50:100]
    assert narrow["result_info"]["per_page"] == 50
    assert narrow["result_info"]["total_pages"] == math.ceil(len(one_provider) / 50)


async def test_identity_providers_page_cap(simulator: Simulator, client: httpx.AsyncClient) -> None:
    every = simulator.identity_providers(ACCOUNT)
    simulator.faults.add(Fault.page_cap(4))
    body = (await client.get(IDP_PATH, params={"per_page": 200, "page": 2})).json()
    assert body["result"] == every[4:8]
    assert (body["result_info"]["per_page"], body["result_info"]["total_pages"]) == (
        4,
        math.ceil(len(every) / 4),
    )


async def test_page_cap_with_ignore_page(simulator: Simulator, client: httpx.AsyncClient) -> None:
    truth = simulator.records(ACCOUNT, ACCESS_REQUESTS)
    simulator.faults.add(Fault.page_cap(10))
    simulator.faults.add(Fault.ignore_page())
    for page in (1, 2, 50):
        assert await rows(client, ACCESS_PATH, per_page=100, direction="asc", page=page) == truth[:10]
    scim = (
        await client.get(SCIM_PATH, params={"idp_id": simulator.scim_provider_ids(ACCOUNT), "page": 9})
    ).json()
    assert (scim["result_info"]["page"], scim["result_info"]["per_page"]) == (1, 10)
    assert simulator.stats.faults_applied["page_cap"] == 4
    assert simulator.stats.faults_applied["ignore_page"] == 4


def test_page_cap_validates_its_size() -> None:
    for size in (0, -1, None, 2.5, True):
        with pytest.raises(ValueError, match="size"):
            Fault(FaultKind.PAGE_CAP, size=size)  # type: ignore[arg-type]
    assert Fault.page_cap(1).count is None


# -- odd envelopes on a 200 ------------------------------------------------------------------------------

ODD_BODIES = {
    "success_missing": b'{"errors":[],"messages":[],"result":[]}',
    "success_false": b'{"success":false,"errors":[],"messages":[],"result":[]}',
    "result_not_list": b'{"success":true,"errors":[],"messages":[],"result":{"unexpected":"object"}}',
    "result_null": b'{"success":true,"errors":[],"messages":[],"result":null}',
    "empty_body": b"",
    "array_body": b"[]",
    "truncated_json": VALID_EMPTY_PAGE[: len(VALID_EMPTY_PAGE) // 2],
}


@pytest.mark.parametrize(("shape", "body"), list(ODD_BODIES.items()))
async def test_odd_envelope_shapes(
    simulator: Simulator, client: httpx.AsyncClient, shape: str, body: bytes
) -> None:
    simulator.faults.add(Fault.odd_envelope(shape))
    response = await client.get(ACCESS_PATH)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Length"] == str(len(body))
    assert "Retry-After" not in response.headers
    normal = await client.get(ACCESS_PATH)
    assert (normal.status_code, len(normal.json()["result"])) == (200, 25)
    assert simulator.stats.faults_applied["odd_envelope"] == 1
    assert simulator.stats.responses_by_status[200] == 2


async def test_truncated_json_does_not_parse(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.faults.add(Fault.odd_envelope("truncated_json", count=2, path="*/scim/updates"))
    response = await client.get(SCIM_PATH, params={"idp_id": simulator.scim_provider_ids(ACCOUNT)})
    assert VALID_EMPTY_PAGE.startswith(response.content)
    assert 0 < len(response.content) < len(VALID_EMPTY_PAGE)
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert (await client.get(ACCESS_PATH)).status_code == 200
    assert simulator.faults.active()[0].remaining == 1


def test_odd_envelope_validates_its_shape() -> None:
    for shape in ("", "bogus", None):
        with pytest.raises(ValueError, match="shape"):
            Fault(FaultKind.ODD_ENVELOPE, shape=shape)
    assert Fault.odd_envelope("array_body").count == 1


# -- unspent rate-limit headers on faulted answers ---------------------------------------------------------


async def test_server_error_with_unspent_ratelimit_headers(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    ordinary = await client.get(ACCESS_PATH)
    simulator.faults.add(Fault.server_error(503, ratelimit_headers=True))
    response = await client.get(ACCESS_PATH)
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert {name: response.headers.get(name) for name in UNSPENT_HEADERS} == UNSPENT_HEADERS
    assert "Retry-After" not in response.headers
    # Same header names as the limiter puts on an ordinary 200.
    assert all(name in ordinary.headers for name in UNSPENT_HEADERS)
    simulator.faults.add(Fault.server_error(503))
    assert "Ratelimit" not in (await client.get(ACCESS_PATH)).headers, "off unless asked for"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.non_json(status=502, ratelimit_headers=True),
        Fault.odd_envelope("success_false", ratelimit_headers=True),
    ],
)
async def test_other_answers_with_unspent_ratelimit_headers(
    simulator: Simulator, client: httpx.AsyncClient, fault: Fault
) -> None:
    simulator.faults.add(fault)
    response = await client.get(ACCESS_PATH)
    assert {name: response.headers.get(name) for name in UNSPENT_HEADERS} == UNSPENT_HEADERS
    assert "Retry-After" not in response.headers


async def test_too_many_requests_keeps_its_retry_after(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.faults.add(Fault(FaultKind.TOO_MANY_REQUESTS, retry_after=4, ratelimit_headers=True))
    response = await client.get(ACCESS_PATH)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "4")
    assert response.headers["X-RateLimit-Remaining"] == "1190"


# -- the control endpoint --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        ({"kind": "page_cap", "size": 10}, Fault.page_cap(10)),
        (
            {"kind": "page_cap", "size": 5, "count": 2, "path": "*/scim/updates"},
            Fault.page_cap(5, 2, None, "*/scim/updates"),
        ),
        ({"kind": "odd_envelope", "shape": "array_body"}, Fault.odd_envelope("array_body")),
        (
            {"kind": "server_error", "status": 503, "ratelimit_headers": True},
            Fault.server_error(503, ratelimit_headers=True),
        ),
        (
            {"kind": "non_json", "status": 502, "ratelimit_headers": True},
            Fault.non_json(ratelimit_headers=True),
        ),
    ],
)
async def test_control_endpoint_round_trips_new_kinds(
    simulator: Simulator, control: httpx.AsyncClient, raw: dict[str, object], fault: Fault
) -> None:
    assert Fault.from_json(raw) == fault
    assert Fault.from_json(fault.to_json()) == fault
    added = await control.post("/faults", json=raw)
    assert added.status_code == 201
    body = added.json()
    assert body == {"id": body["id"], **fault.to_json()}
    listed = (await control.get("/faults")).json()
    assert len(listed) == 1
    kept = {name: value for name, value in listed[0].items() if name not in ("id", "remaining", "used")}
    assert Fault.from_json(kept) == fault
    assert [active.fault for active in simulator.faults.active()] == [fault]


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "page_cap"},
        {"kind": "page_cap", "size": 0},
        {"kind": "page_cap", "size": "10"},
        {"kind": "page_cap", "size": True},
        {"kind": "odd_envelope"},
        {"kind": "odd_envelope", "shape": "html"},
        {"kind": "server_error", "ratelimit_headers": "yes"},
    ],
)
async def test_control_endpoint_refuses_bad_new_faults(
    simulator: Simulator, control: httpx.AsyncClient, raw: dict[str, object]
) -> None:
    refused = await control.post("/faults", json=raw)
    assert refused.status_code == 400
    assert refused.json()["error"]
    assert simulator.faults.active() == []


async def test_control_endpoint_faults_take_effect(
    simulator: Simulator, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    await control.post("/faults", json={"kind": "page_cap", "size": 6, "path": "*/access_requests"})
    await control.post("/faults", json={"kind": "odd_envelope", "shape": "result_null", "path": "*/scim/*"})
    assert len(await rows(client, ACCESS_PATH, per_page=100)) == 6
    odd = await client.get(SCIM_PATH, params={"idp_id": simulator.scim_provider_ids(ACCOUNT)})
    assert odd.json() == {"success": True, "errors": [], "messages": [], "result": None}
    stats = (await control.get("/stats")).json()
    assert stats["faults_applied"] == {"page_cap": 1, "odd_envelope": 1}
    assert [fault["kind"] for fault in (await control.get("/faults")).json()] == ["page_cap"]
