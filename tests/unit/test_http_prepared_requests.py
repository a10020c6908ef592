"""Requests built once and sent with ``client.send``: the same requests ``client.request`` makes.

The Cloudflare GET, the `_bulk` POST and the HEC POST skip httpx's per-request merging of the client's
base URL, headers and timeout (benchmarks/http_overhead.py); these tests hold them to what httpx's own
``build_request`` would have sent, cookies included, and hold the Cloudflare client to keeping none.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from forwarder.retry import Backoff
from forwarder.sinks._http.client import PreparedRequest
from forwarder.sinks.splunk_hec.request import HecClient
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.ratelimit import RateLimiter

ENVELOPE = {"success": True, "errors": [], "messages": [], "result": []}


def same_request(built: httpx.Request, expected: httpx.Request) -> None:
    assert built.method == expected.method
    assert built.url == expected.url
    assert built.headers.raw == expected.headers.raw
    assert built.extensions == expected.extensions
    assert built.content == expected.content


def test_a_prepared_request_is_what_build_request_makes() -> None:
    client = httpx.AsyncClient(
        base_url="https://es.example:9200/prefix",
        headers={"User-Agent": "test", "Authorization": "ApiKey abc"},
        timeout=httpx.Timeout(7.0, connect=3.0),
    )
    params = {"filter_path": "errors,items.*.status", "pipeline": "a pipeline"}
    headers = {"Content-Type": "application/x-ndjson"}
    prepared = PreparedRequest("POST", "/_bulk", params=params, headers=headers)
    for body in (b'{"create":{}}\n{}\n', b"x" * 100_000, b""):
        expected = client.build_request("POST", "/_bulk", content=body, params=params, headers=headers)
        same_request(prepared.build(client, body), expected)


def test_a_prepared_request_carries_the_clients_cookies_as_build_request_does() -> None:
    # A load balancer in front of HEC keeps indexer acknowledgement on one indexer by a cookie.
    client = httpx.AsyncClient(headers={"User-Agent": "test"})
    client.cookies.set("AWSELB", "sticky", domain="hec.example")
    url = "https://hec.example:8088/services/collector/event"
    prepared = PreparedRequest("POST", url, headers={"Content-Type": "application/json"})
    expected = client.build_request("POST", url, content=b"{}", headers={"Content-Type": "application/json"})
    built = prepared.build(client, b"{}")
    same_request(built, expected)
    assert built.headers["Cookie"] == "AWSELB=sticky"


def test_a_prepared_request_is_merged_again_with_a_new_client() -> None:
    prepared = PreparedRequest("POST", "/_bulk")
    first = httpx.AsyncClient(base_url="http://one:9200", headers={"Authorization": "ApiKey one"})
    second = httpx.AsyncClient(base_url="http://two:9200", headers={"Authorization": "ApiKey two"})
    assert prepared.build(first, b"").url == httpx.URL("http://one:9200/_bulk")
    built = prepared.build(second, b"")
    assert built.url == httpx.URL("http://two:9200/_bulk")
    assert built.headers["Authorization"] == "ApiKey two"


async def test_hec_sends_back_a_load_balancers_cookie() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"text": "Success", "code": 0}, headers={"Set-Cookie": "AWSELB=sticky; Path=/"}
        )

    settings = SplunkHecSettings(url="https://hec.example:8088", token="a-token", gzip=False)
    client = HecClient(settings, transport=httpx.MockTransport(handler))
    try:
        await client.post_events(b'{"event":1}')
        await client.post_events(b'{"event":2}')
    finally:
        await client.close()
    assert "Cookie" not in seen[0].headers
    assert seen[1].headers["Cookie"] == "AWSELB=sticky"
    assert seen[1].headers["Authorization"] == "Splunk a-token"
    assert seen[1].headers["Content-Type"] == "application/json"
    assert seen[1].content == b'{"event":2}'


def cloudflare(handler: object, credentials: Credentials) -> CloudflareClient:
    return CloudflareClient(
        "https://api.example/client/v4",
        credentials,
        limiter=RateLimiter(1000, 300),
        backoff=Backoff(0.001, 0.001),
        attempts=1,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        timeout=12.0,
    )


async def test_the_cloudflare_get_is_what_build_request_makes_and_sends_no_cookie_back() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # The API's bot-management cookie: a poller has no session to keep.
        return httpx.Response(200, json=ENVELOPE, headers={"Set-Cookie": "__cf_bm=abc; Path=/; HttpOnly"})

    client = cloudflare(handler, Credentials(token=SecretStr("a-token")))
    params: list[tuple[str, str | int]] = [
        ("per_page", 1000),
        ("since", "2026-11-01T00:00:00Z"),
        ("cursor", "a b/c"),
    ]
    try:
        for _ in range(2):
            await client.get("/accounts/x/access/logs/access_requests", params, operation="o", account_id="x")
        expected = client._http.build_request(
            "GET",
            "https://api.example/client/v4/accounts/x/access/logs/access_requests",
            params=list(params),
            headers={"Authorization": "Bearer a-token"},
        )
        assert not client._http.cookies
    finally:
        await client.close()
    for request in seen:
        same_request(request, expected)
        assert "Cookie" not in request.headers


async def test_the_cloudflare_get_follows_a_change_of_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ENVELOPE)

    client = cloudflare(handler, Credentials(token=SecretStr("a-token")))
    try:
        await client.get("/x", [], operation="o", account_id="x")
        client.credentials = Credentials(api_key=SecretStr("a-key"), email="me@example.com")
        await client.get("/x", [], operation="o", account_id="x")
    finally:
        await client.close()
    assert seen[0].headers["Authorization"] == "Bearer a-token"
    assert "Authorization" not in seen[1].headers
    assert (seen[1].headers["X-Auth-Email"], seen[1].headers["X-Auth-Key"]) == ("me@example.com", "a-key")
