"""OpenTelemetry logs sink: OTLP/HTTP (protobuf or JSON) to ``/v1/logs``, with the answers of the
specification (partial success, retryable 429/502/503/504 with ``Retry-After``, all else permanent).

The anatomy of every HTTP sink (CONTRIBUTING.md, "Adding a sink"): ``settings`` (the
``FORWARDER_OTLP__*`` variables and the standard ``OTEL_EXPORTER_OTLP_LOGS_*`` ones), ``encoder``
(LogRecords with the official ``opentelemetry-proto`` messages), ``request`` (headers, compression,
the pooled client), ``classifier`` (a pure verdict per answer) and ``sink`` (what to do with each).
"""

from forwarder.sinks.otlp.settings import OtlpSettings
from forwarder.sinks.otlp.sink import OtlpSink

__all__ = ["OtlpSettings", "OtlpSink"]
