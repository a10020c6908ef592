"""TLS to the fake HEC with a throwaway CA: verification, a custom CA bundle, client certificates."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from fakes.splunk_hec import FakeHec, HecToken
from forwarder.sinks.base import RetryableError, SinkConfigError
from tests.support.splunk_hec_support import TOKEN, event_id_of, make_events, sink_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


@pytest.fixture
async def tls_fake(ca: trustme.CA) -> AsyncIterator[FakeHec]:
    hec = FakeHec([HecToken(TOKEN)])
    async with hec.serve(server_context(ca)):
        yield hec


@pytest.fixture
async def mutual_tls_fake(ca: trustme.CA) -> AsyncIterator[FakeHec]:
    hec = FakeHec([HecToken(TOKEN)])
    async with hec.serve(server_context(ca, require_client_cert=True)):
        yield hec


async def test_a_custom_ca_bundle(tls_fake: FakeHec, ca_bundle: Path) -> None:
    sink = sink_for(tls_fake, ca_bundle=ca_bundle)
    batch = make_events(3)
    await sink.send(batch)
    await sink.check()
    await sink.close()
    assert tls_fake.url.startswith("https://")
    assert sorted(tls_fake.counts(event_id_of)) == sorted(event.event_id for event in batch)
    assert f"CA file {ca_bundle}" in sink.describe()


async def test_an_untrusted_certificate_is_a_configuration_error(tls_fake: FakeHec) -> None:
    sink = sink_for(tls_fake)
    with pytest.raises(SinkConfigError) as raised:
        await sink.send(make_events(1))
    await sink.close()
    message = str(raised.value)
    assert "is not trusted" in message
    assert "FORWARDER_SPLUNK_HEC__TLS_CA_FILE" in message
    assert tls_fake.requests == []


async def test_the_insecure_switch_skips_verification_and_says_so(
    tls_fake: FakeHec, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="forwarder.sinks.splunk_hec")
    sink = sink_for(tls_fake, tls_insecure=True)
    await sink.send(make_events(1))
    await sink.close()
    assert len(tls_fake.indexed) == 1
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert any("FORWARDER_SPLUNK_HEC__TLS_INSECURE is true" in record.getMessage() for record in warnings)
    assert "TLS NOT VERIFIED" in sink.describe()


async def test_a_client_certificate(
    mutual_tls_fake: FakeHec, ca: trustme.CA, ca_bundle: Path, tmp_path: Path
) -> None:
    client = ca.issue_cert("forwarder@example.com")
    cert = tmp_path / "client.pem"
    key = tmp_path / "client.key"
    for blob in client.cert_chain_pems:
        with cert.open("ab") as out:
            out.write(blob.bytes())
    client.private_key_pem.write_to_path(str(key))
    sink = sink_for(mutual_tls_fake, ca_bundle=ca_bundle, client_cert=cert, client_key=key)
    await sink.send(make_events(2))
    await sink.close()
    assert len(mutual_tls_fake.indexed) == 2
    assert "client certificate" in sink.describe()


async def test_a_client_certificate_and_key_in_one_file(
    mutual_tls_fake: FakeHec, ca: trustme.CA, ca_bundle: Path, tmp_path: Path
) -> None:
    both = tmp_path / "client-and-key.pem"
    ca.issue_cert("forwarder@example.com").private_key_and_cert_chain_pem.write_to_path(str(both))
    sink = sink_for(mutual_tls_fake, ca_bundle=ca_bundle, client_cert=both)
    await sink.send(make_events(1))
    await sink.close()
    assert len(mutual_tls_fake.indexed) == 1


async def test_without_the_required_client_certificate_over_tls_1_3(
    mutual_tls_fake: FakeHec, ca_bundle: Path
) -> None:
    # TLS 1.3 servers drop the connection after the handshake: indistinguishable from a reset,
    # so it stays retryable, and the reason carries the hint.
    sink = sink_for(mutual_tls_fake, ca_bundle=ca_bundle)
    with pytest.raises(RetryableError, match="set FORWARDER_SPLUNK_HEC__TLS_CERT_FILE"):
        await sink.send(make_events(1))
    await sink.close()
    assert mutual_tls_fake.indexed == []


async def test_without_the_required_client_certificate_over_tls_1_2(ca: trustme.CA, ca_bundle: Path) -> None:
    context = server_context(ca, require_client_cert=True)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    hec = FakeHec([HecToken(TOKEN)])
    async with hec.serve(context):
        sink = sink_for(hec, ca_bundle=ca_bundle)
        with pytest.raises(
            SinkConfigError, match=r"TLS handshake with .* failed .* FORWARDER_SPLUNK_HEC__TLS_CERT_FILE"
        ):
            await sink.send(make_events(1))
        await sink.close()
    assert hec.indexed == []


async def test_an_unreadable_client_certificate(tmp_path: Path, ca_bundle: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink

    sink = SplunkHecSink(
        SplunkHecSettings(url="https://127.0.0.1:1", token=TOKEN, ca_bundle=ca_bundle, client_cert=bogus)
    )
    with pytest.raises(SinkConfigError, match="cannot load the client certificate"):
        await sink.open()
