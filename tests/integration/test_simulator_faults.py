"""Every injected fault, through the Python API and through ``POST /__sim__/faults``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fakes.cloudflare import DEFAULT_TOKEN, Fault, ManualClock, Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

ACCOUNT = "0123456789abcdef0123456789abcdef"
END = datetime(2026, 1, 1, tzinfo=UTC)
ACCESS = f"/accounts/{ACCOUNT}/access/logs/access_requests"
SCIM = f"/accounts/{ACCOUNT}/access/logs/scim/updates"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(END.timestamp() + 3600)


@pytest.fixture
async def simulator(clock: ManualClock) -> AsyncIterator[Simulator]:
    config = SimulatorConfig(accounts=[ACCOUNT], start=END - timedelta(hours=1), end=END, scim_per_minute=1.0)
    async with Simulator(config, clock=clock) as simulator:
        yield simulator


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as client:
        yield client


async def test_storm_of_429(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.faults.add(Fault.too_many_requests(count=2, retry_after=7))
    for _ in range(2):
        response = await client.get(ACCESS)
        assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
        assert response.json()["errors"][0]["code"] == 971
    assert (await client.get(ACCESS)).status_code == 200
    assert simulator.stats.too_many_requests == 2
    assert simulator.stats.faults_applied["too_many_requests"] == 2


async def test_block_for_a_while(client: httpx.AsyncClient, simulator: Simulator, clock: ManualClock) -> None:
    simulator.faults.add(Fault.block(30.0))
    assert (await client.get(ACCESS)).headers["Retry-After"] == "30"
    clock.advance(10)
    assert (await client.get(SCIM, params={"idp_id": "x"})).headers["Retry-After"] == "20"
    clock.advance(20)
    assert (await client.get(ACCESS)).status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(client: httpx.AsyncClient, simulator: Simulator, status: int) -> None:
    simulator.faults.add(Fault.server_error(status, count=1))
    response = await client.get(ACCESS)
    assert response.status_code == status
    assert response.json()["success"] is False
    assert (await client.get(ACCESS)).status_code == 200


async def test_slow_answer(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.faults.add(Fault.slow(60.0))
    with pytest.raises(httpx.ReadTimeout):
        await client.get(ACCESS, timeout=0.5)
    assert simulator.stats.faults_applied["slow"] == 1


async def test_connection_reset(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.faults.add(Fault.connection_reset(count=1))
    with pytest.raises(httpx.TransportError):
        await client.get(ACCESS)
    assert (await client.get(ACCESS)).status_code == 200
    assert simulator.stats.connection_resets == 1
    assert simulator.requests[0].status is None


async def test_non_json_proxy_page(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.faults.add(Fault.non_json())
    response = await client.get(ACCESS)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text
    custom = Fault.non_json(status=200, body="<html>maintenance</html>")
    simulator.faults.add(custom)
    assert (await client.get(ACCESS)).text == "<html>maintenance</html>"


async def test_ignore_page_traps_clients_that_page_until_empty(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    first = (await client.get(ACCESS, params={"page": 1, "per_page": 5})).json()["result"]
    fault_id = simulator.faults.add(Fault.ignore_page())
    for page in (2, 3, 1000):
        assert (await client.get(ACCESS, params={"page": page, "per_page": 5})).json()["result"] == first
    scim = (await client.get(SCIM, params={"idp_id": simulator.scim_provider_ids(ACCOUNT), "page": 9})).json()
    assert scim["result_info"]["page"] == 1
    assert simulator.faults.remove(fault_id)
    assert (await client.get(ACCESS, params={"page": 2, "per_page": 5})).json()["result"] != first


async def test_fault_limited_to_a_path(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.faults.add(Fault.server_error(503, count=5, path="*/scim/updates"))
    assert (await client.get(ACCESS)).status_code == 200
    assert (await client.get(SCIM, params={"idp_id": "x"})).status_code == 503


async def test_control_endpoint(client: httpx.AsyncClient, simulator: Simulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.control_url) as control:
        added = await control.post(
            "/faults", json={"kind": "too_many_requests", "count": 1, "retry_after": 3}
        )
        assert added.status_code == 201
        fault_id = added.json()["id"]
        listed = (await control.get("/faults")).json()
        assert [(fault["id"], fault["kind"], fault["remaining"]) for fault in listed] == [
            (fault_id, "too_many_requests", 1)
        ]
        assert (await client.get(ACCESS)).headers["Retry-After"] == "3"
        assert (await control.get("/faults")).json() == []

        bad = await control.post("/faults", json={"kind": "meteor"})
        assert bad.status_code == 400
        assert "kind is one of" in bad.json()["error"]

        await control.post("/faults", json={"kind": "server_error", "status": 502, "count": None})
        assert (await client.get(ACCESS)).status_code == 502
        assert (await control.delete("/faults")).status_code == 200
        assert (await client.get(ACCESS)).status_code == 200

        await client.get(ACCESS, params={"bogus": "1"})
        stats = (await control.get("/stats")).json()
        assert stats["requests_by_endpoint"] == {"access_requests": 4}
        assert stats["too_many_requests"] == 1
        assert stats["responses_by_status"] == {"429": 1, "502": 1, "200": 1, "400": 1}
        assert stats["violations"] == [
            "access-authentication-logs-get-access-authentication-logs: unknown query parameter 'bogus'"
        ]


async def test_control_endpoint_records(client: httpx.AsyncClient, simulator: Simulator) -> None:
    record = {"created_at": "2025-12-31T23:59:59.999999999Z", "ray_id": "feedfacefeedface"}
    async with httpx.AsyncClient(base_url=simulator.control_url) as control:
        body = {"account_id": ACCOUNT, "log_type": "access_requests", "records": [record], "visible_after": 0}
        assert (await control.post("/records", json=body)).json() == {"added": 1}
        truth = (
            await control.get("/records", params={"account_id": ACCOUNT, "log_type": "access_requests"})
        ).json()
        assert truth[-1] == record
        missing = await control.get(
            "/records", params={"account_id": "0" * 32, "log_type": "access_requests"}
        )
        assert missing.status_code == 404
        newest = (await client.get(ACCESS, params={"per_page": 1})).json()["result"]
        assert newest == [record]
        received = (await control.get("/requests")).json()
        assert received[-1]["path"].endswith("/access_requests")
        assert received[-1]["credential"] == "default"
