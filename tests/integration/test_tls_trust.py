"""Whom every HTTPS connection trusts, over real TLS with throwaway CAs (trustme), no mocks of ssl.

* By default, the operating system's trust store (truststore). On Linux that is OpenSSL's default
  paths, which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` point elsewhere (truststore's ``_openssl.py``
  calls ``set_default_verify_paths`` when ``ssl.get_default_verify_paths()`` finds them), so a test
  makes its CA "the OS store" by setting them. httpx alone also reads ``SSL_CERT_FILE``, so one test
  puts the CA only in ``SSL_CERT_DIR`` next to another CA's ``SSL_CERT_FILE``: OpenSSL's store
  reads both, httpx's default reads the file alone, and only the first trusts the server.
* A CA file setting replaces that store.

For HEC and Elasticsearch (their fakes) and the Cloudflare API (the simulator served over TLS); the
OTLP exporter's are in test_tls_trust_otlp.py. The CAs and the OS store are tests/support/pki.py's.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from fakes.cloudflare.server import BASE_PATH, Simulator
from fakes.elasticsearch import FakeElasticsearch
from fakes.splunk_hec import FakeHec, HecToken
from forwarder.builders import make_client
from forwarder.settings import ConfigurationError
from forwarder.sinks.base import Sink, SinkConfigError
from forwarder.sinks.elasticsearch import ElasticsearchSettings, ElasticsearchSink
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink
from forwarder.source.client import CloudflareClient
from forwarder.source.errors import CloudflareError
from tests.missing_tool import missing_tool
from tests.support import elasticsearch_helpers
from tests.support.forwarder_runs import ACCOUNT, settings, simulator_config
from tests.support.pki import Pki
from tests.support.splunk_hec_support import TOKEN
from tests.support.splunk_hec_support import make_events as hec_events

pytestmark = [
    pytest.mark.integration,
    # Elsewhere truststore asks the Keychain or the Windows store, which a test must not touch.
    pytest.mark.skipif(sys.platform != "linux", reason="the OS store is OpenSSL's default paths on Linux"),
]

SINKS = ("splunk_hec", "elasticsearch")


@asynccontextmanager
async def receiver(kind: str, server: ssl.SSLContext) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """(URL, count of events received) of a fake HEC or Elasticsearch served over TLS."""
    if kind == "splunk_hec":
        hec = FakeHec([HecToken(TOKEN)])
        async with hec.serve(server):
            yield hec.url, lambda: len(hec.indexed)
    else:
        async with FakeElasticsearch(ssl_context=server) as cluster:
            yield cluster.url, lambda: len(cluster.document_ids())


def make_sink(kind: str, url: str, **values: Any) -> Sink:
    if kind == "splunk_hec":
        return SplunkHecSink(SplunkHecSettings(url=url, token=TOKEN, **values))
    return ElasticsearchSink(ElasticsearchSettings(url=url, **values))


def env_prefix(kind: str) -> str:
    return f"FORWARDER_{kind.upper()}__"


def settings_from_environment(kind: str) -> SplunkHecSettings | ElasticsearchSettings:
    return SplunkHecSettings() if kind == "splunk_hec" else ElasticsearchSettings()


def sink_with(sink_settings: SplunkHecSettings | ElasticsearchSettings) -> Sink:
    if isinstance(sink_settings, SplunkHecSettings):
        return SplunkHecSink(sink_settings)
    return ElasticsearchSink(sink_settings)


async def send_two(kind: str, sink: Sink) -> None:
    events = hec_events(2) if kind == "splunk_hec" else elasticsearch_helpers.make_events(2)
    try:
        result = await sink.send(events)
    finally:
        await sink.close()
    assert result.rejected == []
    assert result.retry == []


async def refused(kind: str, sink: Sink) -> str:
    try:
        with pytest.raises(SinkConfigError) as raised:
            await send_two(kind, sink)
    finally:
        await sink.close()
    return str(raised.value)


# --- HEC and Elasticsearch ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", SINKS)
async def test_the_os_store_is_trusted_by_default(kind: str, pki: Pki, os_store: Callable[..., None]) -> None:
    os_store(pki.ca_file)
    async with receiver(kind, pki.server) as (url, received):
        assert url.startswith("https://")
        await send_two(kind, make_sink(kind, url))
        assert received() == 2


@pytest.mark.parametrize("kind", SINKS)
async def test_a_ca_missing_from_the_os_store_is_not_trusted(
    kind: str, pki: Pki, os_store: Callable[..., None]
) -> None:
    os_store(pki.other_ca_file)
    async with receiver(kind, pki.server) as (url, received):
        message = await refused(kind, make_sink(kind, url))
        assert received() == 0
    assert "CERTIFICATE_VERIFY_FAILED" in message or "unable to get local issuer certificate" in message
    assert f"{env_prefix(kind)}TLS_CA_FILE" in message


@pytest.mark.parametrize("kind", SINKS)
async def test_the_os_store_is_openssls_not_httpxs(
    kind: str, pki: Pki, os_store: Callable[..., None]
) -> None:
    if not any(pki.hashed_dir.iterdir()):
        missing_tool("openssl is needed to name a CA in a hashed directory")
    # The CA only in SSL_CERT_DIR, another CA in SSL_CERT_FILE: OpenSSL's default paths (the OS
    # store) read both, httpx's default (certifi, or SSL_CERT_FILE alone) would not trust it.
    os_store(pki.other_ca_file, pki.hashed_dir)
    async with receiver(kind, pki.server) as (url, received):
        async with httpx.AsyncClient(verify=True, trust_env=True) as default_httpx:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await default_httpx.get(url)
        await send_two(kind, make_sink(kind, url))
        assert received() == 2


@pytest.mark.parametrize("kind", SINKS)
async def test_the_ca_file_replaces_the_os_store(kind: str, pki: Pki, os_store: Callable[..., None]) -> None:
    async with receiver(kind, pki.server) as (url, received):
        # Trusted through the CA file although the OS store does not know the CA...
        os_store(pki.other_ca_file)
        await send_two(kind, make_sink(kind, url, tls_ca_file=pki.ca_file))
        assert received() == 2
        # ...and not trusted through the OS store when the CA file names another CA.
        os_store(pki.ca_file)
        message = await refused(kind, make_sink(kind, url, tls_ca_file=pki.other_ca_file))
        assert received() == 2
    assert f"{env_prefix(kind)}TLS_CA_FILE" in message


@pytest.mark.parametrize("kind", SINKS)
@pytest.mark.parametrize("name", ["TLS_CA_FILE", "CA_BUNDLE"])
async def test_the_ca_file_under_its_current_and_former_name(
    kind: str, name: str, pki: Pki, os_store: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    os_store(pki.other_ca_file)
    monkeypatch.setenv(f"{env_prefix(kind)}{name}", str(pki.ca_file))
    async with receiver(kind, pki.server) as (url, received):
        monkeypatch.setenv(f"{env_prefix(kind)}URL", url)
        monkeypatch.setenv(f"{env_prefix(kind)}TOKEN", TOKEN)
        read = settings_from_environment(kind)
        assert read.tls_ca_file == pki.ca_file
        sink = sink_with(read)
        deprecated = [warning for warning in sink.warnings() if "deprecated" in warning]
        assert deprecated == (
            [f"{env_prefix(kind)}CA_BUNDLE is deprecated; rename it {env_prefix(kind)}TLS_CA_FILE"]
            if name == "CA_BUNDLE"
            else []
        )
        await send_two(kind, sink)
        assert received() == 2


@pytest.mark.parametrize("kind", SINKS)
@pytest.mark.parametrize(("name", "value"), [("TLS_VERIFY", "false"), ("TLS_INSECURE", "true")])
async def test_verification_off_under_its_current_and_former_name(
    kind: str,
    name: str,
    value: str,
    pki: Pki,
    os_store: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    os_store(pki.other_ca_file)
    monkeypatch.setenv(f"{env_prefix(kind)}{name}", value)
    async with receiver(kind, pki.server) as (url, received):
        monkeypatch.setenv(f"{env_prefix(kind)}URL", url)
        monkeypatch.setenv(f"{env_prefix(kind)}TOKEN", TOKEN)
        read = settings_from_environment(kind)
        assert read.tls_verify is False
        sink = sink_with(read)
        with caplog.at_level("WARNING", logger=f"forwarder.sinks.{kind}"):
            await send_two(kind, sink)
        assert received() == 2
    logged = [record.getMessage() for record in caplog.records]
    assert any(f"{env_prefix(kind)}{name} is {value}: TLS verification of" in line for line in logged)


@pytest.mark.parametrize("kind", SINKS)
async def test_an_unreadable_ca_file_is_a_config_error_naming_the_variable(
    kind: str, pki: Pki, tmp_path: Path
) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    async with receiver(kind, pki.server) as (url, received):
        sink = make_sink(kind, url, tls_ca_file=garbage)
        with pytest.raises(SinkConfigError) as raised:
            await sink.open()
        await sink.close()
        assert received() == 0
    assert str(raised.value).startswith(
        f"{env_prefix(kind)}TLS_CA_FILE: cannot load CA certificates from {str(garbage)!r}"
    )


# --- the Cloudflare API ------------------------------------------------------------------------


@asynccontextmanager
async def simulator_over_tls(server: ssl.SSLContext) -> AsyncIterator[str]:
    """The Cloudflare simulator's app served over TLS; yields its base URL."""
    runner = web.AppRunner(Simulator(simulator_config(hours=1)).make_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server)
        await site.start()
        port = runner.addresses[0][1]
        yield f"https://127.0.0.1:{port}{BASE_PATH}"
    finally:
        await runner.cleanup()


async def read_one_page(client: CloudflareClient) -> None:
    try:
        envelope = await client.get(
            f"/accounts/{ACCOUNT}/access/logs/access_requests",
            [("per_page", 1)],
            operation="probe",
            account_id=ACCOUNT,
        )
    finally:
        await client.close()
    assert isinstance(envelope.result, list)


async def test_cloudflare_with_its_ca_file(pki: Pki, os_store: Callable[..., None], tmp_path: Path) -> None:
    os_store(pki.other_ca_file)
    async with simulator_over_tls(pki.server) as base_url:
        configured = settings(base_url, tmp_path, hours=1, cloudflare_tls_ca_file=pki.ca_file)
        await read_one_page(make_client(configured, attempts=1))


async def test_cloudflare_trusts_the_os_store_by_default(
    pki: Pki, os_store: Callable[..., None], tmp_path: Path
) -> None:
    async with simulator_over_tls(pki.server) as base_url:
        os_store(pki.ca_file)
        await read_one_page(make_client(settings(base_url, tmp_path, hours=1), attempts=1))
        os_store(pki.other_ca_file)
        with pytest.raises(CloudflareError, match="CERTIFICATE_VERIFY_FAILED"):
            await read_one_page(make_client(settings(base_url, tmp_path, hours=1), attempts=1))


async def test_cloudflare_ca_file_replaces_the_os_store(
    pki: Pki, os_store: Callable[..., None], tmp_path: Path
) -> None:
    os_store(pki.ca_file)
    async with simulator_over_tls(pki.server) as base_url:
        configured = settings(base_url, tmp_path, hours=1, cloudflare_tls_ca_file=pki.other_ca_file)
        with pytest.raises(CloudflareError, match="CERTIFICATE_VERIFY_FAILED"):
            await read_one_page(make_client(configured, attempts=1))


def test_a_missing_cloudflare_ca_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    configured = settings("https://api.example", tmp_path, cloudflare_tls_ca_file=missing)
    with pytest.raises(ConfigurationError) as raised:
        make_client(configured)
    assert raised.value.problems == [
        f"CLOUDFLARE_TLS_CA_FILE: cannot load CA certificates from {str(missing)!r}: No such file or "
        "directory; give a PEM file with the CA that signed the Cloudflare API's certificate"
    ]
