"""OpenTelemetry providers and exporters; the health, readiness, status and metrics endpoints.

``providers`` holds the meter and tracer providers, ``exporters`` where they send (Prometheus,
OTLP), ``readings`` the protocols through which the gauges and the endpoints read the components,
``status`` what the endpoints report and ``health`` the HTTP server that serves them. What is
recorded lives beside what records it: ``forwarder/source/instruments.py`` and
``forwarder/pipeline/instruments.py``.
"""

from forwarder.telemetry.providers import Telemetry

__all__ = ["Telemetry"]
