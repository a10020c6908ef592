"""OTLP over HTTP/protobuf to a local receiver, configured only by the standard OTEL_* variables."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from forwarder.telemetry.exporters import telemetry_from_environment
from tests.support.forwarder_runs import NOW, settings, simulator_config


class Receiver(ThreadingHTTPServer):
    """Keeps every OTLP request body by path, answering 200 as a collector does."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bodies: dict[str, list[bytes]] = {}
        self.content_types: set[str] = set()


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.content_types.add(self.headers.get("Content-Type", ""))
        self.server.bodies.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


async def test_metrics_and_spans_reach_an_otlp_collector_with_the_service_name(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_address[1]}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "forwarder-under-test")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    telemetry = telemetry_from_environment(prometheus=False)
    simulator = Simulator(simulator_config(hours=1))
    base_url = await simulator.start()
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(tmp_path / "events.ndjson"), fsync=False))
    forwarder = Forwarder.build(
        Config(settings(base_url, tmp_path, hours=1), (sink,)),
        Parts(checkpoints=MemoryCheckpointStore(), now=NOW, telemetry=telemetry),
    )
    try:
        await forwarder.run(until_caught_up=True)
    finally:
        await simulator.stop()
        # Shutting down flushes: the last metrics and every span are sent now.
        telemetry.shutdown()
    assert receiver.content_types == {"application/x-protobuf"}

    metric_names: set[str] = set()
    fetched = 0
    for body in receiver.bodies["/v1/metrics"]:
        request = ExportMetricsServiceRequest.FromString(body)
        for resource in request.resource_metrics:
            attributes = {item.key: item.value.string_value for item in resource.resource.attributes}
            assert attributes["service.name"] == "forwarder-under-test"
            assert attributes["deployment.environment"] == "test"
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    metric_names.add(metric.name)
                    if metric.name == "forwarder.events.fetched":
                        fetched = max(fetched, sum(point.as_int for point in metric.sum.data_points))
    assert {"forwarder.events.fetched", "forwarder.events.sent", "forwarder.stream.lag"} <= metric_names
    assert fetched == sum(stream.progress.events for stream in forwarder.streams) > 0

    span_names: set[str] = set()
    for body in receiver.bodies["/v1/traces"]:
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope in resource.scope_spans:
                span_names.update(span.name for span in scope.spans)
    assert {"probe", "poll window", "GET access_requests", "sink deliver", "sink send"} <= span_names
