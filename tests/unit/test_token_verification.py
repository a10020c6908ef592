"""What the token verify endpoints' answers mean for a person: which token state, and the fix."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.errors import CloudflareError
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.token_verification import judge, verify_token

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_an_active_token_is_usable_and_says_until_when() -> None:
    verdict = judge({"id": "x", "status": "active", "expires_on": "2027-06-01T00:00:00Z"}, "user", NOW)
    assert verdict.usable
    assert verdict.message == "CLOUDFLARE_API_TOKEN is an active user token, valid until 2027-06-01 00:00 UTC"
    assert verdict.warning == ""


def test_a_token_without_expiry_says_so() -> None:
    verdict = judge({"id": "x", "status": "active"}, "account-owned", NOW)
    assert verdict.usable
    assert verdict.message == "CLOUDFLARE_API_TOKEN is an active account-owned token, no expiry"


def test_a_token_ending_soon_is_usable_with_a_warning() -> None:
    verdict = judge({"status": "active", "expires_on": "2026-12-10T00:00:00Z"}, "user", NOW)
    assert verdict.usable
    assert verdict.warning == "CLOUDFLARE_API_TOKEN expires on 2026-12-10 00:00 UTC: roll it before then"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            {"status": "expired", "expires_on": "2026-11-30T08:00:00Z"},
            "CLOUDFLARE_API_TOKEN (user token) expired on 2026-11-30 08:00 UTC: roll it or create a new one",
        ),
        # Cloudflare's status may lag the clock: an end in the past is expired whatever the status says.
        (
            {"status": "active", "expires_on": "2026-12-01T00:00:00Z"},
            "CLOUDFLARE_API_TOKEN (user token) expired on 2026-12-01 00:00 UTC: roll it or create a new one",
        ),
        (
            {"status": "disabled"},
            "CLOUDFLARE_API_TOKEN (user token) is disabled: enable it, or create a new one",
        ),
        (
            {"status": "active", "not_before": "2026-12-05T00:00:00Z"},
            "CLOUDFLARE_API_TOKEN (user token) is not valid before 2026-12-05 00:00 UTC",
        ),
        ({"status": "revoked"}, "CLOUDFLARE_API_TOKEN (user token) has status 'revoked', not active"),
        (None, "CLOUDFLARE_API_TOKEN (user token) has status 'unknown', not active"),
    ],
)
def test_a_token_that_cannot_work_is_named_with_its_fix(result: object, expected: str) -> None:
    verdict = judge(result, "user", NOW)
    assert not verdict.usable
    assert verdict.message.startswith(expected)


async def test_an_answer_that_is_not_about_the_token_is_not_taken_for_a_bad_token() -> None:
    """A wrong CLOUDFLARE_API_BASE_URL (404 everywhere) must not be reported as an unknown token."""

    def not_found(request: httpx.Request) -> httpx.Response:
        error = {"code": 7003, "message": "No route for the URI"}
        return httpx.Response(404, json={"success": False, "errors": [error], "result": None})

    client = CloudflareClient(
        "https://proxy.example/client/v4",
        Credentials(token=SecretStr("t")),
        limiter=RateLimiter(100, 300),
        backoff=Backoff(0.001, 0.001),
        attempts=1,
        transport=httpx.MockTransport(not_found),
    )
    try:
        with pytest.raises(CloudflareError) as raised:
            await verify_token(client, ["023e105f4ecef8ad9ca31a8372d0c353"], now=NOW)
    finally:
        await client.close()
    assert raised.value.status == 404
