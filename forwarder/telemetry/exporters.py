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

Over https, the collector's certificate is verified against the operating system's trust store
(:mod:`forwarder.tls`), where the exporters alone would use certifi's bundle;
``OTEL_EXPORTER_OTLP_CERTIFICATE`` (or the per-signal one) replaces it with the CAs of that file.

Spans are made even without an exporter: their trace ids tie log lines together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider

from forwarder import __version__
from forwarder.telemetry.providers import Telemetry

# The metrics SDK, the exporters and requests are imported only when an exporter or /metrics needs
# them: a `once` with neither (a CronJob) would otherwise pay a sixth of its start-up for nothing.
if TYPE_CHECKING:
    import requests
    from opentelemetry.sdk.metrics.export import MetricReader

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


def otlp_session(signal: str, environ: Mapping[str, str]) -> requests.Session | None:
    """The session an OTLP exporter of ``signal`` uses: the OS trust store, unless the environment
    names a CA file (the exporter then verifies against it alone) or a session of its own."""
    named = (
        f"OTEL_EXPORTER_OTLP_{signal}_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        f"OTEL_PYTHON_EXPORTER_OTLP_HTTP_{signal}_CREDENTIAL_PROVIDER",
        "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    )
    if any(environ.get(variable, "").strip() for variable in named):
        return None
    import requests

    from forwarder.telemetry.system_trust import SystemTrustAdapter

    session = requests.Session()
    session.mount("https://", SystemTrustAdapter())
    return session


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
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        warn_about_protocol("METRICS", environ)
        readers.append(
            PeriodicExportingMetricReader(OTLPMetricExporter(session=otlp_session("METRICS", environ)))
        )
        exporting.append("metrics")
    tracer_provider = TracerProvider(resource=described)
    if otlp_enabled("TRACES", environ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        warn_about_protocol("TRACES", environ)
        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(session=otlp_session("TRACES", environ)))
        )
        exporting.append("traces")
    if exporting:
        log.info(
            "exporting telemetry over OTLP",
            extra={"signals": ",".join(exporting), "service_name": described.attributes.get(SERVICE_NAME)},
        )
    if not readers:
        # Nothing would ever read the metrics: the API's no-op meters record them for free.
        return Telemetry(None, tracer_provider)
    from opentelemetry.sdk.metrics import MeterProvider

    meter_provider = MeterProvider(resource=described, metric_readers=readers)
    return Telemetry(meter_provider, tracer_provider, prometheus_registry=registry)
