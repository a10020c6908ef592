"""Where metrics and spans go, decided by the standard OpenTelemetry environment variables.

* Prometheus: an OpenTelemetry ``PrometheusMetricReader`` feeding a registry of our own (not the
  prometheus_client global one), served as ``/metrics`` on the health port.
* OTLP over HTTP/protobuf: metrics when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` is set, spans when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; ``OTEL_METRICS_EXPORTER=none`` /
  ``OTEL_TRACES_EXPORTER=none`` turn one off. The exporters read their other variables
  (headers, timeout, certificates, compression) themselves, the SDK reads
  ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_TRACES_SAMPLER`` and ``OTEL_BSP_*``, and the resource
  comes from ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (service name
  ``cloudflare-siem-forwarder`` when neither names one).

Spans are made even without an exporter: their trace ids tie log lines together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from forwarder import __version__
from forwarder.telemetry.instruments import Telemetry

log = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "cloudflare-siem-forwarder"
SUPPORTED_PROTOCOL = "http/protobuf"


def otlp_enabled(signal: str, environ: Mapping[str, str]) -> bool:
    """``signal`` is METRICS or TRACES: exported when an endpoint is set and the exporter is not none."""
    if environ.get(f"OTEL_{signal}_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip()
    )


def warn_about_protocol(signal: str, environ: Mapping[str, str]) -> None:
    protocol = (
        environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or ""
    ).strip()
    if protocol and protocol != SUPPORTED_PROTOCOL:
        log.warning(
            "only the OTLP http/protobuf protocol is supported; exporting with it anyway",
            extra={"signal": signal.lower(), "requested_protocol": protocol},
        )


def resource() -> Resource:
    """The SDK's resource from OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, with our defaults."""
    detected = Resource.create({SERVICE_VERSION: __version__})
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        detected = detected.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return detected


def telemetry_from_environment(*, prometheus: bool, environ: Mapping[str, str] | None = None) -> Telemetry:
    """Providers and exporters as the environment asks; ``prometheus`` when /metrics is served."""
    environ = os.environ if environ is None else environ
    described = resource()
    readers: list[MetricReader] = []
    registry = None
    if prometheus:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry(auto_describe=True)
        # Scope labels would repeat `otel_scope_name="forwarder"` on every series.
        readers.append(PrometheusMetricReader(scope_info_enabled=False, registry=registry))
    exporting = []
    if otlp_enabled("METRICS", environ):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        warn_about_protocol("METRICS", environ)
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        exporting.append("metrics")
    tracer_provider = TracerProvider(resource=described)
    if otlp_enabled("TRACES", environ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        warn_about_protocol("TRACES", environ)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        exporting.append("traces")
    if exporting:
        log.info(
            "exporting telemetry over OTLP",
            extra={"signals": ",".join(exporting), "service_name": described.attributes.get(SERVICE_NAME)},
        )
    meter_provider = MeterProvider(resource=described, metric_readers=readers)
    return Telemetry(meter_provider, tracer_provider, prometheus_registry=registry)
