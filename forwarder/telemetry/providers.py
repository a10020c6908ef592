"""The meter and tracer providers every component's instruments are created from.

:class:`Telemetry` holds the providers the caller chose: the command line builds them from the
standard ``OTEL_*`` variables (:mod:`forwarder.telemetry.exporters`), tests pass providers with
in-memory readers, and anything else gets the no-op providers of the API. It records nothing
itself: each component creates its own instruments from its meter and tracer, beside its code
(``forwarder/source/instruments.py``, ``forwarder/pipeline/instruments.py``), and those
instruments read the gauges from what the component registers with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from opentelemetry import metrics, trace
from opentelemetry.metrics import Meter
from opentelemetry.trace import Tracer

from forwarder import __version__

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# One instrumentation scope for every component: the exported scope name is part of the output.
SCOPE = "forwarder"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

Instruments = TypeVar("Instruments")


class Telemetry:
    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        prometheus_registry: CollectorRegistry | None = None,
    ) -> None:
        self.meter_provider = meter_provider if meter_provider is not None else metrics.NoOpMeterProvider()
        self.tracer_provider = tracer_provider if tracer_provider is not None else trace.NoOpTracerProvider()
        # Set when a Prometheus reader feeds this registry: /metrics serves it.
        self.prometheus_registry = prometheus_registry
        self.meter = self.meter_provider.get_meter(SCOPE, __version__)
        self.tracer = self.tracer_provider.get_tracer(SCOPE, __version__)
        self._instruments: dict[Callable[..., Any], Any] = {}

    def instruments(self, kind: Callable[[Meter, Tracer], Instruments]) -> Instruments:
        """The one set of ``kind`` on these providers, created on first use.

        Once, however many forwarders are built on these providers: the SDK keeps the callbacks
        of the first observable gauge of a name and drops those of a second, so a second set
        would record its counters but never be observed.
        """
        if kind not in self._instruments:
            self._instruments[kind] = kind(self.meter, self.tracer)
        return cast(Instruments, self._instruments[kind])

    def shutdown(self) -> None:
        """Flush and stop the exporters (OTLP sends what it holds)."""
        for provider in (self.meter_provider, self.tracer_provider):
            shutdown = getattr(provider, "shutdown", None)
            if shutdown is not None:
                shutdown()
