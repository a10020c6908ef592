"""A table of real Cloudflare answers and what the client makes of them.

Bodies come from the OpenAPI excerpt and from errors seen in public issue threads
(see schemas/README or ../shared/reference/cloudflare/samples/errors_observed_in_issues.json).
"""

from __future__ import annotations

import email.utils

import httpx
import pytest
from pydantic import SecretStr

from forwarder.retry import Backoff
from forwarder.source.client import CloudflareClient, Credentials, server_wait
from forwarder.source.errors import (
    CloudflareAuthError,
    CloudflareError,
    CloudflareRateLimited,
    CloudflareRetryableError,
)
from forwarder.source.ratelimit import RateLimiter

ACCOUNT = "0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000.0
TOKEN = "a-token-that-must-never-be-printed"

AUTH_ERROR = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
BAD_HEADER = {
    "success": False,
    "errors": [
        {
            "code": 6003,
            "message": "Invalid request headers",
            "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
        }
    ],
    "messages": [],
    "result": None,
}
UNAUTHENTICATED = {"success": False, "errors": [{"code": 10001, "message": "Unable to authenticate request"}]}
RATE_LIMITED = {
    "success": False,
    "errors": [
        {
            "code": 971,
            "message": "More than 1200 requests per 300 seconds reached. "
            "Please wait and consider throttling your request speed",
        }
    ],
}
NO_ROUTE = {
    "errors": [{"code": 7003, "message": "No route for the URI"}],
    "messages": [],
    "result": None,
    "success": False,
}


async def answer(
    status: int, body: object, operation: str, headers: dict[str, str] | None = None
) -> Exception:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers or {"content-type": "text/html"})
        return httpx.Response(status, json=body, headers=headers)

    client = CloudflareClient(
        "https://api.example/client/v4",
        Credentials(token=SecretStr(TOKEN)),
        limiter=RateLimiter(1000, 300),
        backoff=Backoff(0.001, 0.001),
        attempts=1,
        transport=httpx.MockTransport(handler),
    )
    try:
        with pytest.raises(CloudflareError) as caught:
            await client.get("/x", [], operation=operation, account_id=ACCOUNT)
    finally:
        await client.close()
    assert TOKEN not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("status", "body", "operation", "kind", "words"),
    [
        (403, AUTH_ERROR, "access_requests", CloudflareAuthError, '"Access: Audit Logs Read"'),
        (403, AUTH_ERROR, "scim_updates", CloudflareAuthError, '"Access: SCIM Logs Read"'),
        (403, AUTH_ERROR, "identity_providers", CloudflareAuthError, "Identity Providers, and Groups Read"),
        (403, AUTH_ERROR, "identity_providers", CloudflareAuthError, "FORWARDER_SCIM_IDP_IDS"),
        (
            400,
            BAD_HEADER,
            "access_requests",
            CloudflareAuthError,
            "CLOUDFLARE_API_TOKEN must hold an API token",
        ),
        (
            401,
            UNAUTHENTICATED,
            "access_requests",
            CloudflareAuthError,
            "CLOUDFLARE_API_TOKEN was not accepted",
        ),
        (429, RATE_LIMITED, "access_requests", CloudflareRateLimited, "rate limit"),
        (500, {"success": False, "errors": []}, "scim_updates", CloudflareRetryableError, "HTTP 500"),
        (502, b"<html>Bad gateway</html>", "scim_updates", CloudflareRetryableError, "not a JSON envelope"),
        (404, NO_ROUTE, "access_requests", CloudflareError, "FORWARDER_ACCOUNT_IDS"),
        # A 2xx that is not a sound listing envelope is garbled, not a refusal: retried, never
        # taken as an empty page and never a credential problem (exit 3).
        (
            200,
            {"success": False, "errors": [{"code": 1000, "message": "odd"}]},
            "scim_updates",
            CloudflareRetryableError,
            "`success` is false",
        ),
        (200, {"errors": [], "result": []}, "access_requests", CloudflareRetryableError, "without `success`"),
        (
            200,
            {"success": "true", "result": []},
            "access_requests",
            CloudflareRetryableError,
            '`success` is "true"',
        ),
        (
            200,
            {"success": True, "result": {"a": 1}},
            "access_requests",
            CloudflareRetryableError,
            "not a list (a JSON dict)",
        ),
        (200, {"success": True, "result": None}, "scim_updates", CloudflareRetryableError, "not a list"),
        (200, {"success": True}, "scim_updates", CloudflareRetryableError, "not a list (missing)"),
        (200, b"", "access_requests", CloudflareRetryableError, "does not parse"),
        (200, b"[]", "access_requests", CloudflareRetryableError, "a JSON list, not an envelope"),
        (200, b'{"success": true, "resu', "access_requests", CloudflareRetryableError, "does not parse"),
    ],
)
async def test_answers_become_errors_a_person_can_act_on(
    status: int, body: object, operation: str, kind: type[Exception], words: str
) -> None:
    error = await answer(status, body, operation)
    assert type(error) is kind
    assert words in str(error)
    assert ACCOUNT in str(error)


async def test_rate_limit_blocks_the_whole_credential() -> None:
    error = await answer(429, RATE_LIMITED, "access_requests", {"retry-after": "42"})
    assert isinstance(error, CloudflareRateLimited)
    assert error.retry_after == 42.0


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "300"}, 300.0),
        (429, {"retry-after": email.utils.formatdate(NOW + 60, usegmt=True)}, 60.0),
        (429, {"ratelimit": '"default";r=0;t=17'}, 17.0),
        (429, {"x-ratelimit-reset": "25"}, 25.0),
        (429, {"x-ratelimit-reset": "130"}, 130.0),
        (429, {"x-ratelimit-reset": str(int(NOW) + 90)}, 90.0),
        (429, {}, None),
        (429, {"retry-after": "soon"}, None),
        # Retry-After is an explicit request on any answer.
        (503, {"retry-after": "7"}, 7.0),
        # Rate-limit headers come on every answer: they pause only when the budget is spent.
        (503, {"ratelimit": '"default";r=1190;t=280'}, None),
        (500, {"x-ratelimit-remaining": "1190", "x-ratelimit-reset": "280"}, None),
        (200, {"ratelimit": '"default";r=1190;t=280', "ratelimit-policy": '"default";q=1200;w=300'}, None),
        (503, {"ratelimit": '"default";r=0;t=280'}, 280.0),
        (502, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "45"}, 45.0),
    ],
)
def test_the_wait_the_server_asks_for(status: int, headers: dict[str, str], expected: float | None) -> None:
    # A reset larger than a day is an epoch time; a smaller one is seconds from now.
    assert server_wait(status, httpx.Headers(headers), now=NOW) == expected


async def test_a_5xx_with_ordinary_rate_limit_headers_is_retried_on_the_normal_backoff() -> None:
    headers = {"ratelimit": '"default";r=1190;t=280', "ratelimit-policy": '"default";q=1200;w=300'}
    error = await answer(503, {"success": False, "errors": []}, "access_requests", headers)
    assert isinstance(error, CloudflareRetryableError)
    assert error.retry_after is None
    garbled = await answer(200, b"<html>", "access_requests", {"content-type": "text/html", **headers})
    assert isinstance(garbled, CloudflareRetryableError)
    assert garbled.retry_after is None


async def test_a_spent_budget_on_a_success_pauses_the_credential_until_the_reset() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"success": True, "errors": [], "messages": [], "result": []}
        return httpx.Response(200, json=body, headers={"ratelimit": '"default";r=0;t=42'})

    limiter = RateLimiter(1000, 300)
    client = CloudflareClient(
        "https://api.example/client/v4",
        Credentials(token=SecretStr(TOKEN)),
        limiter=limiter,
        backoff=Backoff(0.001, 0.001),
        transport=httpx.MockTransport(handler),
    )
    try:
        envelope = await client.get("/x", [], operation="access_requests", account_id=ACCOUNT)
    finally:
        await client.close()
    assert envelope.result == []
    assert 41 < limiter.delay() <= 42
