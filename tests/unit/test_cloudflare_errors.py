"""A table of real Cloudflare answers and what the client makes of them.

Bodies come from the OpenAPI excerpt and from errors seen in public issue threads
(see schemas/README or ../shared/reference/cloudflare/samples/errors_observed_in_issues.json).
"""

from __future__ import annotations

import email.utils

import httpx
import pytest
from pydantic import SecretStr

from forwarder.cloudflare.client import CloudflareClient, Credentials, retry_after_seconds
from forwarder.cloudflare.errors import (
    CloudflareAuthError,
    CloudflareError,
    CloudflareRateLimited,
    CloudflareRetryableError,
)
from forwarder.cloudflare.ratelimit import RateLimiter
from forwarder.retry import Backoff

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
        (
            200,
            {"success": False, "errors": [{"code": 1000, "message": "odd"}]},
            "scim_updates",
            CloudflareError,
            "odd",
        ),
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
    ("headers", "expected"),
    [
        ({"retry-after": "300"}, 300.0),
        ({"retry-after": email.utils.formatdate(NOW + 60, usegmt=True)}, 60.0),
        ({"ratelimit": '"default";r=0;t=17'}, 17.0),
        ({"x-ratelimit-reset": "25"}, 25.0),
        ({"x-ratelimit-reset": "130"}, 130.0),
        ({"x-ratelimit-reset": str(int(NOW) + 90)}, 90.0),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_in_every_header_style(headers: dict[str, str], expected: float | None) -> None:
    # A reset larger than a day is an epoch time; a smaller one is seconds from now.
    result = retry_after_seconds(httpx.Headers(headers), now=NOW)
    assert result == expected
