"""A bad token is named as a bad token, not as a missing permission: verify_token against the simulator.

The simulator refuses a disabled or expired token on the log endpoints as it refuses a good token without
the permission (403, 10000), as Cloudflare does; its verify endpoints tell them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from fakes.cloudflare import AUDIT_LOGS_READ, Credential, Simulator, SimulatorConfig
from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.errors import CloudflareAuthError
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.token_verification import verify_token

ACCOUNT = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
END = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TOKENS = [
    Credential(token="user-token", label="user", expires_on="2027-06-01T00:00:00Z"),
    Credential(token="account-token", label="account", owner="account", accounts={ACCOUNT}),
    Credential(token="expired-token", label="expired", status="expired", expires_on="2026-11-01T00:00:00Z"),
    Credential(token="disabled-token", label="disabled", status="disabled"),
    Credential(token="audit-only-token", label="audit-only", permissions={AUDIT_LOGS_READ}),
]


def client(base_url: str, token: str) -> CloudflareClient:
    return CloudflareClient(
        base_url,
        Credentials(token=SecretStr(token)),
        limiter=RateLimiter(1000, 300),
        backoff=Backoff(0.001, 0.001),
        attempts=2,
    )


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        accounts=[ACCOUNT, OTHER], start=END - timedelta(minutes=5), end=END, credentials=TOKENS
    )
    async with Simulator(config, clock=lambda: END.timestamp()) as running:
        yield running


@pytest.mark.parametrize(
    ("token", "usable", "message"),
    [
        (
            "user-token",
            True,
            "CLOUDFLARE_API_TOKEN is an active user token, valid until 2027-06-01 00:00 UTC",
        ),
        ("account-token", True, "CLOUDFLARE_API_TOKEN is an active account-owned token, no expiry"),
        (
            "expired-token",
            False,
            "CLOUDFLARE_API_TOKEN (user token) expired on 2026-11-01 00:00 UTC: roll it",
        ),
        ("disabled-token", False, "CLOUDFLARE_API_TOKEN (user token) is disabled"),
        ("no-such-token", False, "CLOUDFLARE_API_TOKEN is not a token Cloudflare knows (mistyped, cut short"),
        # A good token without a permission verifies as active: the 403 that follows is about permissions.
        ("audit-only-token", True, "CLOUDFLARE_API_TOKEN is an active user token"),
    ],
)
async def test_each_token_state_is_named(
    simulator: Simulator, token: str, usable: bool, message: str
) -> None:
    cloudflare = client(simulator.base_url, token)
    try:
        verdict = await verify_token(cloudflare, [OTHER, ACCOUNT], now=END)
    finally:
        await cloudflare.close()
    assert verdict.usable is usable
    assert verdict.message.startswith(message), verdict.message


async def test_an_expired_token_looks_like_a_missing_permission_to_a_log_endpoint(
    simulator: Simulator,
) -> None:
    """Why verification is needed: the log endpoint's refusal alone points at permissions."""
    cloudflare = client(simulator.base_url, "expired-token")
    try:
        with pytest.raises(CloudflareAuthError) as refused:
            await cloudflare.get(
                f"/accounts/{ACCOUNT}/access/logs/access_requests",
                [("limit", 1)],
                operation="access_requests",
                account_id=ACCOUNT,
            )
    finally:
        await cloudflare.close()
    assert refused.value.status == 403
    assert "lacks the permission" in str(refused.value)


async def test_an_account_owned_token_is_tried_on_each_account_until_its_own(simulator: Simulator) -> None:
    cloudflare = client(simulator.base_url, "account-token")
    try:
        await verify_token(cloudflare, [OTHER, ACCOUNT], now=END)
    finally:
        await cloudflare.close()
    asked = [request.path for request in simulator.requests]
    assert asked == [
        "/client/v4/user/tokens/verify",
        f"/client/v4/accounts/{OTHER}/tokens/verify",
        f"/client/v4/accounts/{ACCOUNT}/tokens/verify",
    ]
