"""A Telemetry with in-memory readers, for tests that assert what was measured and traced."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from forwarder.telemetry import Telemetry


class Recorded:
    """A Telemetry with in-memory readers, and what it recorded."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.telemetry = Telemetry(MeterProvider(metric_readers=[self.reader]), tracer_provider)

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of every point of metric ``name``; the value is the point for histograms."""
        found = []
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        value = (
                            point if isinstance(point, HistogramDataPoint) else getattr(point, "value", None)
                        )
                        found.append((dict(point.attributes or {}), value))
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of the points of ``name`` whose attributes include ``attributes``."""
        return sum(
            value.count if isinstance(value, HistogramDataPoint) else value
            for found, value in self.points(name)
            if all(found.get(key) == expected for key, expected in attributes.items())
        )

    def finished(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]
