"""Auth headers, token permissions, account scope and the per-credential rate limit, over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fakes.cloudflare import (
    AUDIT_LOGS_READ,
    BASE_PATH,
    Credential,
    ManualClock,
    RateLimit,
    Simulator,
    SimulatorConfig,
)

pytestmark = pytest.mark.integration

ACCOUNT = "0123456789abcdef0123456789abcdef"
OTHER_ACCOUNT = "fedcba9876543210fedcba9876543210"
END = datetime(2026, 1, 1, tzinfo=UTC)
FULL_TOKEN = "full-access-token"
AUDIT_ONLY_TOKEN = "audit-only-token"
OTHER_ACCOUNT_TOKEN = "other-account-token"
EMAIL = "admin@example.com"
KEY = "0123456789abcdef0123456789abcdef01234"
ACCESS = f"/accounts/{ACCOUNT}/access/logs/access_requests"
SCIM = f"/accounts/{ACCOUNT}/access/logs/scim/updates?idp_id=x"
IDPS = f"/accounts/{ACCOUNT}/access/identity_providers"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(END.timestamp())


@pytest.fixture
async def simulator(clock: ManualClock) -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        accounts=[ACCOUNT, OTHER_ACCOUNT],
        start=END - timedelta(minutes=10),
        end=END,
        credentials=[
            Credential(token=FULL_TOKEN, label="full"),
            Credential(token=AUDIT_ONLY_TOKEN, permissions={AUDIT_LOGS_READ}, label="audit"),
            Credential(token=OTHER_ACCOUNT_TOKEN, accounts={OTHER_ACCOUNT}, label="other"),
            Credential(email=EMAIL, key=KEY, label="global-key"),
        ],
        rate_limit=RateLimit(requests=3, period=60.0, block=120.0),
    )
    async with Simulator(config, clock=clock) as simulator:
        yield simulator


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.base_url) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# The one table of auth answers, as a user of the API meets them.
AUTH_CASES = [
    ({}, ACCESS, 400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers", None),
    ({"Authorization": FULL_TOKEN}, ACCESS, 400, 6003, "Invalid request headers", 6111),
    ({"Authorization": f"Token {FULL_TOKEN}"}, ACCESS, 400, 6003, "Invalid request headers", 6111),
    ({"Authorization": "Bearer two words"}, ACCESS, 400, 6003, "Invalid request headers", 6111),
    (
        {"X-Auth-Email": EMAIL},
        ACCESS,
        400,
        9106,
        "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        None,
    ),
    ({"X-Auth-Email": EMAIL, "X-Auth-Key": FULL_TOKEN}, ACCESS, 400, 6003, "Invalid request headers", 6103),
    (bearer("no-such-token"), ACCESS, 401, 10001, "Unable to authenticate request", None),
    (
        {"X-Auth-Email": "someone@example.com", "X-Auth-Key": KEY},
        ACCESS,
        401,
        10001,
        "Unable to authenticate request",
        None,
    ),
    (bearer(AUDIT_ONLY_TOKEN), SCIM, 403, 10000, "Authentication error", None),
    (bearer(AUDIT_ONLY_TOKEN), IDPS, 403, 10000, "Authentication error", None),
    (bearer(OTHER_ACCOUNT_TOKEN), ACCESS, 403, 10000, "Authentication error", None),
    (
        bearer(FULL_TOKEN),
        f"/accounts/{'1' * 32}/access/logs/access_requests",
        403,
        10000,
        "Authentication error",
        None,
    ),
]


@pytest.mark.parametrize(("headers", "path", "status", "code", "message", "chained"), AUTH_CASES)
async def test_auth_failures(
    client: httpx.AsyncClient,
    simulator: Simulator,
    headers: dict[str, str],
    path: str,
    status: int,
    code: int,
    message: str,
    chained: int | None,
) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert (body["success"], body["result"], body["messages"]) == (False, None, [])
    assert (body["errors"][0]["code"], body["errors"][0]["message"]) == (code, message)
    if chained is not None:
        assert body["errors"][0]["error_chain"][0]["code"] == chained
    assert simulator.violations == []


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        (bearer(FULL_TOKEN), SCIM),
        (bearer(AUDIT_ONLY_TOKEN), ACCESS),
        ({"X-Auth-Email": EMAIL.upper(), "X-Auth-Key": KEY}, IDPS),
        (bearer(OTHER_ACCOUNT_TOKEN), f"/accounts/{OTHER_ACCOUNT}/access/logs/access_requests"),
    ],
)
async def test_allowed_callers(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> None:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.json()["success"] is True


async def test_requests_are_recorded_without_secrets(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await client.get(ACCESS, params=[("per_page", "5"), ("direction", "asc")], headers=bearer(FULL_TOKEN))
    await client.get(IDPS, headers={"X-Auth-Email": EMAIL, "X-Auth-Key": KEY})
    first, second = simulator.requests
    assert (first.method, first.path) == ("GET", f"{BASE_PATH}{ACCESS}")
    assert first.query == [("per_page", "5"), ("direction", "asc")]
    assert (first.credential, first.auth_scheme, first.status) == ("full", "bearer", 200)
    assert (second.credential, second.auth_scheme) == ("global-key", "key")
    assert FULL_TOKEN not in repr(list(simulator.requests))
    assert KEY not in repr(list(simulator.requests))


async def test_rate_limit_headers_then_block(
    client: httpx.AsyncClient, simulator: Simulator, clock: ManualClock
) -> None:
    remaining = []
    for _ in range(3):
        response = await client.get(ACCESS, headers=bearer(FULL_TOKEN))
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["Ratelimit-Policy"] == '"default";q=3;w=60'
        assert (
            response.headers["Ratelimit"] == f'"default";r={response.headers["X-RateLimit-Remaining"]};t=60'
        )
        assert "Retry-After" not in response.headers
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]

    refused = await client.get(ACCESS, headers=bearer(FULL_TOKEN))
    assert refused.status_code == 429
    assert refused.json() == {
        "success": False,
        "errors": [
            {
                "code": 971,
                "message": "More than 3 requests per 60 seconds reached. "
                "Please wait and consider throttling your request speed",
            }
        ],
        "messages": [],
        "result": None,
    }
    assert refused.headers["Retry-After"] == "120"
    assert refused.headers["Ratelimit"] == '"default";r=0;t=120'
    assert (await client.get(IDPS, headers=bearer(AUDIT_ONLY_TOKEN))).status_code == 403, "own budget"

    clock.advance(100)
    still = await client.get(SCIM, headers=bearer(FULL_TOKEN))
    assert (still.status_code, still.headers["Retry-After"]) == (429, "20")
    clock.advance(20)
    assert (await client.get(ACCESS, headers=bearer(FULL_TOKEN))).status_code == 200
    assert simulator.stats.too_many_requests == 2
    assert simulator.stats.rate_limit_blocks == 1
    assert simulator.stats.responses_by_status[429] == 2


async def test_time_scale_compresses_the_block() -> None:
    clock = ManualClock(END.timestamp())
    config = SimulatorConfig(
        accounts=[ACCOUNT],
        start=END - timedelta(minutes=1),
        end=END,
        rate_limit=RateLimit(requests=1, period=300.0, block=300.0, time_scale=60.0),
    )
    async with Simulator(config, clock=clock) as simulator:
        headers = bearer(config.credentials[0].token or "")
        async with httpx.AsyncClient(base_url=simulator.base_url, headers=headers) as client:
            assert (await client.get(ACCESS)).headers["Ratelimit-Policy"] == '"default";q=1;w=5'
            refused = await client.get(ACCESS)
            assert (refused.status_code, refused.headers["Retry-After"]) == (429, "5")
            clock.advance(5)
            assert (await client.get(ACCESS)).status_code == 200
