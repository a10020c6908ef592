"""Credentials, TLS, proxies, `check` and the bootstrap template against the fake cluster."""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from fakes.elasticsearch import FakeElasticsearch
from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.elasticsearch import ElasticsearchSink
from tests.support.elasticsearch_helpers import deliver, make_events, make_sink

pytestmark = pytest.mark.integration

ACCESS = "logs-cloudflare.access_requests-default"
SCIM = "logs-cloudflare.scim_updates-default"
ENCODED_KEY = base64.b64encode(b"key-id:key-secret").decode()


async def send_and_close(sink: ElasticsearchSink, count: int = 4) -> None:
    try:
        rejected, _ = await deliver(sink, make_events(count))
        assert rejected == []
    finally:
        await sink.close()


@pytest.mark.parametrize(
    ("sink_settings", "header"),
    [
        ({"api_key": ENCODED_KEY}, f"ApiKey {ENCODED_KEY}"),
        ({"api_key": "key-id:key-secret"}, f"ApiKey {ENCODED_KEY}"),
        (
            {"username": "forwarder", "password": "pa:ss"},
            "Basic " + base64.b64encode(b"forwarder:pa:ss").decode(),
        ),
        ({"bearer_token": "service-token"}, "Bearer service-token"),
    ],
    ids=["api key encoded", "api key id:key", "basic", "bearer"],
)
async def test_auth_styles(sink_settings: dict[str, str], header: str) -> None:
    async with FakeElasticsearch(
        api_keys=[("key-id", "key-secret")], users={"forwarder": "pa:ss"}, bearer_tokens=["service-token"]
    ) as fake:
        await send_and_close(make_sink(fake.url, **sink_settings))
        assert {r.headers["Authorization"] for r in fake.requests} == {header}
        assert len(fake.document_ids()) == 4


@pytest.mark.parametrize(
    ("sink_settings", "variable"),
    [
        ({"api_key": "key-id:wrong-secret"}, "FORWARDER_ELASTICSEARCH__API_KEY"),
        ({"username": "forwarder", "password": "wrong-secret"}, "FORWARDER_ELASTICSEARCH__USERNAME"),
        ({"bearer_token": "wrong-secret"}, "FORWARDER_ELASTICSEARCH__BEARER_TOKEN"),
        ({}, "no credentials are set"),
    ],
)
async def test_refused_credentials_are_a_config_error(sink_settings: dict[str, str], variable: str) -> None:
    async with FakeElasticsearch(api_keys=[("key-id", "key-secret")], users={"forwarder": "pa:ss"}) as fake:
        for probe in ("send", "check"):
            sink = make_sink(fake.url, **sink_settings)
            try:
                with pytest.raises(SinkConfigError) as raised:
                    await (sink.send(make_events(1)) if probe == "send" else sink.check())
            finally:
                await sink.close()
            assert variable in str(raised.value)
            assert "401" in str(raised.value) or "authentication failed" in str(raised.value)
            assert "wrong-secret" not in str(raised.value)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    bundle = tmp_path_factory.mktemp("tls") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return server, bundle


async def test_tls_with_a_private_ca(tls: tuple[ssl.SSLContext, Path]) -> None:
    server, bundle = tls
    async with FakeElasticsearch(ssl_context=server) as fake:
        assert fake.url.startswith("https://")
        await send_and_close(make_sink(fake.url, ca_bundle=bundle))
        assert len(fake.document_ids()) == 4


async def test_untrusted_certificate_is_a_config_error(tls: tuple[ssl.SSLContext, Path]) -> None:
    server, _ = tls
    async with FakeElasticsearch(ssl_context=server) as fake:
        sink = make_sink(fake.url)
        try:
            with pytest.raises(SinkConfigError) as raised:
                await sink.send(make_events(1))
        finally:
            await sink.close()
        assert "FORWARDER_ELASTICSEARCH__TLS_CA_FILE" in str(raised.value)
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
        assert fake.requests == []


async def test_insecure_switch_works_and_warns(
    tls: tuple[ssl.SSLContext, Path], caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = tls
    async with FakeElasticsearch(ssl_context=server) as fake:
        with caplog.at_level(logging.WARNING, logger="forwarder.sinks.elasticsearch"):
            await send_and_close(make_sink(fake.url, tls_insecure=True))
        assert len(fake.document_ids()) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TLS verification" in w and "TLS_INSECURE" in w for w in warnings)


async def test_plain_http_to_a_tls_port_is_a_config_error(tls: tuple[ssl.SSLContext, Path]) -> None:
    _server, bundle = tls
    async with FakeElasticsearch() as fake:
        sink = make_sink(fake.url.replace("http://", "https://"), ca_bundle=bundle)
        try:
            with pytest.raises(SinkConfigError, match=r"TLS handshake with https://127\.0\.0\.1"):
                await sink.send(make_events(1))
        finally:
            await sink.close()


async def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeElasticsearch() as proxy_and_cluster:
        for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_and_cluster.url)
        # Not resolvable: the request can only arrive through the proxy.
        await send_and_close(make_sink("http://elasticsearch.invalid:9200"))
        assert proxy_and_cluster.requests[0].headers["Host"] == "elasticsearch.invalid:9200"
        assert len(proxy_and_cluster.document_ids()) == 4


async def test_check_passes_with_the_right_to_write() -> None:
    async with FakeElasticsearch(api_keys=[("key-id", "key-secret")]) as fake:
        sink = make_sink(fake.url, api_key="key-id:key-secret")
        try:
            await sink.check()  # targets missing, but the built-in logs-*-* template makes data streams
            await sink.send(make_events(2))
            await sink.check()  # targets exist now
        finally:
            await sink.close()


async def test_check_names_the_missing_privilege() -> None:
    async with FakeElasticsearch(api_keys=[("key-id", "key-secret")], writable=[ACCESS]) as fake:
        sink = make_sink(fake.url, api_key="key-id:key-secret")
        try:
            with pytest.raises(SinkConfigError) as raised:
                await sink.check()
        finally:
            await sink.close()
    message = str(raised.value)
    assert f"`create_doc` on {SCIM} (FORWARDER_ELASTICSEARCH__TARGET_SCIM_UPDATES)" in message
    assert "key-secret" not in message


async def test_check_of_an_unreachable_cluster_is_retryable() -> None:
    async with FakeElasticsearch() as gone:
        url = gone.url
    sink = make_sink(url)
    try:
        with pytest.raises(RetryableError, match="connection to"):
            await sink.check()
    finally:
        await sink.close()


async def test_check_of_a_plain_index_target() -> None:
    async with FakeElasticsearch() as fake:
        sink = make_sink(
            fake.url, target_type="index", target_access_requests="cf-a", target_scim_updates="cf-s"
        )
        try:
            await sink.check()
        finally:
            await sink.close()


async def test_opensearch_needs_a_template_for_data_streams() -> None:
    async with FakeElasticsearch(flavor="opensearch", users={"admin": "admin"}) as fake:
        sink = make_sink(fake.url, username="admin", password="admin")
        try:
            with pytest.raises(SinkConfigError) as raised:
                await sink.check()
        finally:
            await sink.close()
    assert "no index template with `data_stream` matches it" in str(raised.value)
    assert "FORWARDER_ELASTICSEARCH__BOOTSTRAP_TEMPLATE=true" in str(raised.value)


async def test_opensearch_with_bootstrap(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeElasticsearch(flavor="opensearch", users={"admin": "admin"}) as fake:
        sink = make_sink(fake.url, username="admin", password="admin", bootstrap_template=True)
        with caplog.at_level(logging.INFO, logger="forwarder.sinks.elasticsearch"):
            await sink.check()  # no _has_privileges on OpenSearch: noted, not failed
        assert any("privileges not verified" in r.getMessage() for r in caplog.records)
        await send_and_close(sink, count=6)
        template: dict[str, Any] = fake.templates["cloudflare-siem-forwarder"]
        assert template["data_stream"] == {}
        assert template["template"]["mappings"]["properties"]["cloudflare"] == {"type": "flat_object"}
        assert fake.targets[ACCESS].kind == "data_stream"
        assert len(fake.document_ids()) == 6

        # Installed only when missing: a person's changes to it are kept.
        template["priority"] = 321
        await send_and_close(make_sink(fake.url, username="admin", password="admin", bootstrap_template=True))
        assert fake.templates["cloudflare-siem-forwarder"]["priority"] == 321


async def test_bootstrap_on_elasticsearch_wins_over_the_builtin_template() -> None:
    async with FakeElasticsearch() as fake:
        await send_and_close(make_sink(fake.url, bootstrap_template=True))
        template = fake.templates["cloudflare-siem-forwarder"]
        assert template["priority"] == 200
        assert template["template"]["mappings"]["properties"]["cloudflare"] == {"type": "flattened"}


async def test_bootstrap_without_the_privilege_is_a_config_error() -> None:
    async with FakeElasticsearch(may_manage_templates=False) as fake:
        for probe in ("send", "check"):
            sink = make_sink(fake.url, bootstrap_template=True)
            try:
                with pytest.raises(SinkConfigError, match="manage_index_templates"):
                    await (sink.send(make_events(1)) if probe == "send" else sink.check())
            finally:
                await sink.close()
        assert fake.document_ids() == []


def test_describe_names_no_secret() -> None:
    sink = make_sink("https://es.example.com:9200", api_key="key-id:key-secret")
    assert sink.describe() == (
        f"elasticsearch (ecs) to https://es.example.com:9200, data_streams {ACCESS}, {SCIM}"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # Refused when the pooled client is made (its base URL), on the first send or check.
        ("http://127.0.0.1:9200/" + "a" * 70_000, "URL too long"),
        # Refused when a request is made.
        ("http://xn--ls8h.la:9200", "not allowed"),
    ],
    ids=["url too long", "host not valid idna"],
)
async def test_an_address_httpx_cannot_use_is_a_config_error(url: str, reason: str) -> None:
    sink = make_sink(url)
    try:
        for attempt in (sink.send(make_events(1)), sink.check()):
            with pytest.raises(SinkConfigError) as raised:
                await attempt
            message = str(raised.value)
            assert message.startswith("cannot use the address http://")
            assert reason in message
            assert message.endswith("check FORWARDER_ELASTICSEARCH__URL")
    finally:
        await sink.close()
