"""Whom the OTLP exporter trusts, over real TLS with a throwaway CA: the operating system's trust
store (which requests alone would not read), unless an ``OTEL_EXPORTER_OTLP_*CERTIFICATE`` variable
leaves trust to the exporter. The CAs and the OS store are tests/support/pki.py's.
"""

from __future__ import annotations

import gzip
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from forwarder.telemetry.exporters import otlp_session, telemetry_from_environment
from tests.support.pki import Pki

pytestmark = [
    pytest.mark.integration,
    # Elsewhere truststore asks the Keychain or the Windows store, which a test must not touch.
    pytest.mark.skipif(sys.platform != "linux", reason="the OS store is OpenSSL's default paths on Linux"),
]


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP collector over TLS that keeps every request body by path."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.bodies: dict[str, list[bytes]] = {}

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.bodies.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector(pki: Pki) -> Iterator[Collector]:
    server = Collector(pki.server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def test_otlp_trusts_the_os_store_where_requests_alone_would_not(
    collector: Collector, pki: Pki, os_store: Callable[..., None]
) -> None:
    os_store(pki.ca_file)
    session = otlp_session("TRACES", {})
    assert session is not None
    with session:
        assert session.post(f"{collector.url}/v1/traces", data=b"", timeout=10).status_code == 200
    # What the exporter does without our session: certifi's bundle, blind to the OS store.
    with requests.Session() as plain, pytest.raises(requests.exceptions.SSLError):
        plain.post(f"{collector.url}/v1/traces", data=b"", timeout=10)
    os_store(pki.other_ca_file)
    untrusting = otlp_session("TRACES", {})
    assert untrusting is not None
    with untrusting, pytest.raises(requests.exceptions.SSLError):
        untrusting.post(f"{collector.url}/v1/traces", data=b"", timeout=10)


def test_spans_reach_an_otlp_collector_over_tls(
    collector: Collector, pki: Pki, os_store: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    os_store(pki.ca_file)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    telemetry = telemetry_from_environment(prometheus=False)
    with telemetry.tracer.start_as_current_span("over-tls"):
        pass
    telemetry.shutdown()
    assert collector.bodies.get("/v1/traces")


def test_an_otlp_certificate_variable_leaves_trust_to_the_exporter(pki: Pki) -> None:
    for variable in ("OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"):
        assert otlp_session("TRACES", {variable: str(pki.ca_file)}) is None
    other_signal = otlp_session("METRICS", {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(pki.ca_file)})
    assert other_signal is not None
    other_signal.close()
