"""The two log endpoints and the IdP list over a real socket: paging, windows, filters, the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fakes.cloudflare import (
    ACCESS_REQUESTS,
    DEFAULT_TOKEN,
    SCIM_UPDATES,
    DataProfile,
    ManualClock,
    Simulator,
    SimulatorConfig,
)

pytestmark = pytest.mark.integration

ACCOUNT = "0123456789abcdef0123456789abcdef"
END = datetime(2026, 1, 1, tzinfo=UTC)
ACCESS_PATH = f"/accounts/{ACCOUNT}/access/logs/access_requests"
SCIM_PATH = f"/accounts/{ACCOUNT}/access/logs/scim/updates"
IDP_PATH = f"/accounts/{ACCOUNT}/access/identity_providers"


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
    simulator = Simulator(config, clock=ManualClock(END.timestamp() + 3600))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as client:
        yield client


async def page_through_access(client: httpx.AsyncClient, **params: str | int) -> list[dict[str, object]]:
    collected: list[dict[str, object]] = []
    page = 1
    while True:
        response = await client.get(ACCESS_PATH, params={**params, "page": page})
        assert response.status_code == 200
        body = response.json()
        assert "result_info" not in body
        collected.extend(body["result"])
        if len(body["result"]) < int(params.get("per_page", 25)):
            return collected
        page += 1


async def test_access_requests_pages_cover_every_record_once(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    truth = simulator.records(ACCOUNT, ACCESS_REQUESTS)
    assert await page_through_access(client, per_page=100, direction="asc") == truth
    assert await page_through_access(client, per_page=333) == truth[::-1], "desc is the default"
    assert simulator.violations == []


async def test_access_requests_limit_alone_sets_the_page_size(client: httpx.AsyncClient) -> None:
    by_limit = (await client.get(ACCESS_PATH, params={"limit": 7})).json()["result"]
    default = (await client.get(ACCESS_PATH)).json()["result"]
    both = (await client.get(ACCESS_PATH, params={"limit": 7, "per_page": 50})).json()["result"]
    assert (len(by_limit), len(default), len(both)) == (7, 25, 50)


async def test_since_is_inclusive_until_is_exclusive(simulator: Simulator, client: httpx.AsyncClient) -> None:
    truth = [r for r in simulator.records(ACCOUNT, ACCESS_REQUESTS) if isinstance(r.get("created_at"), str)]
    middle = str(truth[len(truth) // 2]["created_at"])
    same_time = [record for record in truth if record["created_at"] == middle]
    params: dict[str, str | int] = {"since": middle, "until": middle, "per_page": 1000, "direction": "asc"}
    assert (await client.get(ACCESS_PATH, params=params)).json()["result"] == []
    after = await page_through_access(client, since=middle, per_page=1000, direction="asc")
    before = await page_through_access(client, until=middle, per_page=1000, direction="asc")
    assert after[: len(same_time)] == same_time
    assert all(record.get("created_at") != middle for record in before)
    assert len(before) + len(after) == len(simulator.records(ACCOUNT, ACCESS_REQUESTS))


async def test_access_requests_email_filter_and_fields(client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"email": "@exämple.com", "per_page": 1000, "fields": "user_email,ray_id"}
    result = (await client.get(ACCESS_PATH, params=params)).json()["result"]
    assert result
    assert all(str(record["user_email"]).endswith("@exämple.com") for record in result)
    assert all(set(record) <= {"user_email", "ray_id"} for record in result)
    exact: dict[str, str | int] = {"email": "jösé@exämple.com", "email_exact": "true", "per_page": 1000}
    assert {r["user_email"] for r in (await client.get(ACCESS_PATH, params=exact)).json()["result"]} == {
        "jösé@exämple.com"
    }


async def test_scim_updates_pages_with_result_info(simulator: Simulator, client: httpx.AsyncClient) -> None:
    providers = simulator.scim_provider_ids(ACCOUNT)
    truth = simulator.records(ACCOUNT, SCIM_UPDATES)
    collected: list[dict[str, object]] = []
    page, total_pages = 1, 1
    while page <= total_pages:
        params = [("idp_id", provider) for provider in providers] + [("per_page", "40"), ("page", str(page))]
        body = (await client.get(SCIM_PATH, params=tuple(params))).json()
        info = body["result_info"]
        assert info == {
            "count": len(body["result"]),
            "page": page,
            "per_page": 40,
            "total_count": len(truth),
            "total_pages": -(-len(truth) // 40),
        }
        total_pages = info["total_pages"]
        collected.extend(body["result"])
        page += 1
    assert collected == truth[::-1]
    assert simulator.violations == []


async def test_scim_updates_one_idp_is_a_subset(simulator: Simulator, client: httpx.AsyncClient) -> None:
    first, second = simulator.scim_provider_ids(ACCOUNT)
    counts = []
    for provider in (first, second):
        body = (await client.get(SCIM_PATH, params={"idp_id": provider, "per_page": 1000})).json()
        assert all(record.get("idp_id") in (provider, None) for record in body["result"])
        counts.append(body["result_info"]["total_count"])
    both = (await client.get(SCIM_PATH, params=[("idp_id", first), ("idp_id", second)])).json()
    assert counts[0] > 0
    assert counts[1] > 0
    assert sum(counts) == both["result_info"]["total_count"]
    unknown = (await client.get(SCIM_PATH, params={"idp_id": "not-an-idp"})).json()
    assert unknown["result"] == []
    assert unknown["result_info"]["total_pages"] == 0


async def test_scim_updates_status_filter(simulator: Simulator, client: httpx.AsyncClient) -> None:
    params: list[tuple[str, str | int]] = [
        ("idp_id", provider) for provider in simulator.scim_provider_ids(ACCOUNT)
    ]
    params += [("status", "FAILURE"), ("resource_type", "USER"), ("per_page", 1000)]
    result = (await client.get(SCIM_PATH, params=tuple(params))).json()["result"]
    assert result
    assert {(record["status"], record["resource_type"]) for record in result} == {("FAILURE", "USER")}


async def test_scim_per_page_maximum(simulator: Simulator, client: httpx.AsyncClient) -> None:
    provider = simulator.scim_provider_ids(ACCOUNT)[0]
    assert (await client.get(SCIM_PATH, params={"idp_id": provider, "per_page": 1000})).status_code == 200
    assert simulator.violations == []
    response = await client.get(SCIM_PATH, params={"idp_id": provider, "per_page": 1001})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "errors": [
            {"code": 10400, "message": "Invalid request: per_page: 1001 is greater than the maximum 1000"}
        ],
        "messages": [],
        "result": None,
    }
    operation = "access-scim-update-logs-list-access-scim-update-logs"
    assert simulator.violations == [f"{operation}: per_page: 1001 is greater than the maximum 1000"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (ACCESS_PATH, {"since": "yesterday"}),
        (ACCESS_PATH, {"per_page": "lots"}),
        (ACCESS_PATH, {"direction": "newest"}),
        (ACCESS_PATH, {"offset": "10"}),
        (ACCESS_PATH, {"page": "0"}),
        (SCIM_PATH, {}),
        (SCIM_PATH, {"idp_id": "a,b"}),
        (IDP_PATH, {"per_page": "2000"}),
    ],
)
async def test_contract_violations_answer_400_and_are_recorded(
    simulator: Simulator, client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert len(simulator.violations) == 1


async def test_identity_providers_list(client: httpx.AsyncClient, simulator: Simulator) -> None:
    body = (await client.get(IDP_PATH)).json()
    assert body["success"] is True
    assert body["result_info"]["total_count"] == len(body["result"]) == 6
    enabled = [idp["id"] for idp in body["result"] if idp.get("scim_config", {}).get("enabled")]
    assert enabled == simulator.scim_provider_ids(ACCOUNT)
    assert any("scim_config" not in idp for idp in body["result"])
    assert any(idp.get("scim_config") == {"enabled": False} for idp in body["result"])
    only = (await client.get(IDP_PATH, params={"scim_enabled": "true"})).json()["result"]
    assert [idp["id"] for idp in only] == enabled
    second = (await client.get(IDP_PATH, params={"per_page": 4, "page": 2})).json()
    assert second["result_info"] == {"count": 2, "page": 2, "per_page": 4, "total_count": 6, "total_pages": 2}


async def test_unknown_routes_and_identifiers(client: httpx.AsyncClient, simulator: Simulator) -> None:
    no_route = await client.get(f"/accounts/{ACCOUNT}/access/logs/gateway")
    assert no_route.status_code == 404
    assert no_route.json() == {
        "success": False,
        "errors": [{"code": 7003, "message": "No route for the URI"}],
        "messages": [],
        "result": None,
    }
    bad_id = await client.get("/accounts/not-hex/access/logs/access_requests")
    assert bad_id.status_code == 404
    assert bad_id.json()["errors"][0]["code"] == 7003
    assert "perhaps your object identifier is invalid" in bad_id.json()["errors"][0]["message"]
    post = await client.post(ACCESS_PATH)
    assert post.status_code == 405
    assert simulator.stats.requests_by_endpoint["unknown"] == 1


async def test_late_and_injected_records_show_up_when_visible() -> None:
    clock = ManualClock(END.timestamp())
    config = SimulatorConfig(
        accounts=[ACCOUNT],
        start=END - timedelta(minutes=30),
        end=END,
        access_per_minute=20.0,
        profile=DataProfile(late=0.3, late_max_delay=90.0),
    )
    async with Simulator(config, clock=clock) as simulator:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as late_client:
            truth = simulator.records(ACCOUNT, ACCESS_REQUESTS)
            window: dict[str, str | int] = {
                "until": END.isoformat().replace("+00:00", "Z"),
                "per_page": 10_000,
            }
            early = (await late_client.get(ACCESS_PATH, params=window)).json()["result"]
            assert len(early) < len(truth), "a poller that does not wait misses late records"
            injected = {"created_at": "2025-12-31T23:45:00Z", "ray_id": "0123456789abcdef", "country": "NZ"}
            simulator.add_records(ACCOUNT, ACCESS_REQUESTS, [injected], visible_after=120.0)
            clock.advance(91)
            settled = (await late_client.get(ACCESS_PATH, params=window)).json()["result"]
            assert len(settled) == len(truth)
            assert injected not in settled
            clock.advance(29)
            final = (await late_client.get(ACCESS_PATH, params=window)).json()["result"]
            assert injected in final
            assert sorted(map(str, final)) == sorted(map(str, simulator.records(ACCOUNT, ACCESS_REQUESTS)))
