"""Helpers for the otlp sink's tests: a sink pointed at the fake Collector."""

from __future__ import annotations

from typing import Any

from fakes.otlp_collector import FakeCollector
from forwarder.sinks.otlp import OtlpSettings, OtlpSink

API_KEY = "otlp-test-key-0001"


def sink_for(fake: FakeCollector, **settings: Any) -> OtlpSink:
    values: dict[str, Any] = {"endpoint": fake.endpoint, "headers": {"api-key": API_KEY}}
    values.update(settings)
    return OtlpSink(OtlpSettings(**values))
