"""OpenTelemetry metrics and traces; the health, readiness, status and metrics endpoints.

``instruments`` holds what the forwarder records, ``exporters`` where it goes (Prometheus, OTLP),
``status`` what the endpoints report and ``health`` the HTTP server that serves them.
"""

from forwarder.telemetry.instruments import Telemetry

__all__ = ["Telemetry"]
