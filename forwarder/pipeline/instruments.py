"""The pipeline's metrics and spans: mapping, deliveries, dead letters, retries and each sink's window.

:class:`PipelineInstruments` is created once from the meter and tracer the caller hands in (as an
OpenTelemetry SDK processor creates its own instruments); without them it records nothing. The sink
gauges (in-flight events and bytes, state) read the status every sink worker registered with
:meth:`PipelineInstruments.observe_sink`, whenever a reader collects.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import httpx
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from forwarder import __version__
from forwarder.records import LogType, Record
from forwarder.sinks.base import Event, RetryableError, SendResult, SinkConfigError
from forwarder.telemetry.providers import DURATION_BUCKETS, SCOPE
from forwarder.telemetry.readings import SinkStatusView

SINK_STATES = ("starting", "ok", "retrying", "config_error")
EVENT_COUNT_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
SIZE_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


def stream_key(record: Record) -> str:
    return f"{record.account_id}/{record.log_type.value}"


def by_stream(events: Iterable[Event]) -> dict[tuple[str, str], int]:
    """Events per (stream, log type); counted by record fields, named once per stream."""
    counts = _stream_counts(events)
    return {
        (f"{account_id}/{log_type.value}", log_type.value): count
        for (account_id, log_type), count in counts.items()
    }


def _stream_counts(events: Iterable[Event]) -> Counter[tuple[str, LogType]] | dict[tuple[str, LogType], int]:
    """Events per (account, log type). A batch is usually of one stream, whose records share their
    account and log type objects: told by identity first, without a tuple per event."""
    if isinstance(events, Sequence) and events:
        first = events[0].record
        account_id, log_type = first.account_id, first.log_type
        same = [
            event
            for event in events
            if (record := event.record).account_id is account_id and record.log_type is log_type
        ]
        if len(same) == len(events):
            return {(account_id, log_type): len(events)}
    return Counter((event.record.account_id, event.record.log_type) for event in events)


def sink_retry_reason(error: BaseException | None, *, partial: bool) -> str:
    """Why a sink batch is sent again: throttled, partial, timeout, connection or error."""
    if partial:
        return "partial"
    if isinstance(error, RetryableError) and error.retry_after is not None:
        return "throttled"
    cause = error.__cause__ if error is not None else None
    if isinstance(cause, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, OSError | httpx.TransportError):
        return "connection"
    return "error"


class SinkSend:
    """What one ``send`` returned; the context manager of :meth:`PipelineInstruments.sink_send` reads it."""

    def __init__(self) -> None:
        self.result: SendResult | None = None


class PipelineInstruments:
    def __init__(self, meter: Meter | None = None, tracer: Tracer | None = None) -> None:
        meter = meter if meter is not None else metrics.NoOpMeter(SCOPE, __version__)
        self.tracer = tracer if tracer is not None else trace.NoOpTracer()
        # By sink name: a pipeline built again on the same providers takes over its sinks' gauges.
        self._sinks: dict[str, SinkStatusView] = {}
        event = "{event}"
        self.mapped = meter.create_counter(
            "forwarder.events.mapped", event, "Records mapped to an output format (once per format)."
        )
        self.sent = meter.create_counter(
            "forwarder.events.sent", event, "Events a sink acknowledged as delivered."
        )
        self.rejected = meter.create_counter(
            "forwarder.events.rejected",
            event,
            "Events a sink refused for good (they go to the dead letters).",
        )
        self.dead_lettered = meter.create_counter(
            "forwarder.events.dead_lettered",
            event,
            "Events written to the dead-letter file, by reason: rejected, expired or mapping_failed.",
        )
        self.sink_retries = meter.create_counter(
            "forwarder.sink.retries", "{retry}", "Batches sent to a sink again, by reason."
        )
        self.sink_duration = meter.create_histogram(
            "forwarder.sink.request.duration",
            "s",
            "Duration of one batch sent to a sink (each attempt), by outcome.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.batch_events = meter.create_histogram(
            "forwarder.sink.batch.event_count",
            event,
            "Events per batch sent to a sink (each attempt); its count is the number of sends.",
            explicit_bucket_boundaries_advisory=EVENT_COUNT_BUCKETS,
        )
        self.batch_size = meter.create_histogram(
            "forwarder.sink.batch.size",
            "By",
            "Encoded bytes per batch sent to a sink (each attempt).",
            explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
        )
        self._create_gauges(meter)

    def _create_gauges(self, meter: Meter) -> None:
        meter.create_observable_gauge(
            "forwarder.sink.inflight.events",
            [self._observe_inflight_events],
            "{event}",
            "Events queued for or being sent to a sink.",
        )
        meter.create_observable_gauge(
            "forwarder.sink.inflight.size",
            [self._observe_inflight_size],
            "By",
            "Encoded bytes queued for or being sent to a sink.",
        )
        meter.create_observable_gauge(
            "forwarder.sink.state",
            [self._observe_sink_state],
            "1",
            "1 for the state a sink is in (starting, ok, retrying, config_error), 0 for the others.",
        )

    def observe_sink(self, sink: SinkStatusView) -> None:
        """Read the sink gauges of ``sink.name`` from ``sink`` from now on."""
        self._sinks[sink.name] = sink

    # Recording, called where things happen.

    def events_mapped(self, records: Sequence[Record], fmt: str, mapped: int) -> None:
        if not records or not mapped:
            return
        first = records[0]
        # A submit is one page of one stream.
        self.mapped.add(
            mapped, {"stream": stream_key(first), "log_type": first.log_type.value, "format": fmt}
        )

    def mapping_failed(self, record: Record, sinks: Iterable[str]) -> None:
        for sink in sinks:
            self.dead_lettered.add(
                1,
                {
                    "sink": sink,
                    "stream": stream_key(record),
                    "log_type": record.log_type.value,
                    "reason": "mapping_failed",
                },
            )

    def events_delivered(self, sink: str, events: Iterable[Event]) -> None:
        for (stream, log_type), count in by_stream(events).items():
            self.sent.add(count, {"sink": sink, "stream": stream, "log_type": log_type})

    def events_rejected(self, sink: str, events: Iterable[Event]) -> None:
        for (stream, log_type), count in by_stream(events).items():
            attributes = {"sink": sink, "stream": stream, "log_type": log_type}
            self.rejected.add(count, attributes)
            self.dead_lettered.add(count, attributes | {"reason": "rejected"})

    def events_expired(self, sink: str, events: Iterable[Event]) -> None:
        for (stream, log_type), count in by_stream(events).items():
            attributes = {"sink": sink, "stream": stream, "log_type": log_type, "reason": "expired"}
            self.dead_lettered.add(count, attributes)

    def sink_retry(self, sink: str, error: BaseException | None, *, partial: bool) -> None:
        self.sink_retries.add(1, {"sink": sink, "reason": sink_retry_reason(error, partial=partial)})

    @contextmanager
    def sink_send(
        self, sink: str, events: Sequence[Event], attempt: int, size: int | None = None
    ) -> Iterator[SinkSend]:
        """Span, duration and batch size of one ``send``; the outcome is read from the result.

        ``size``: the events' bodies plus one byte each, when the caller has it already."""
        if size is None:
            size = sum([len(event.body) for event in events]) + len(events)
        self.batch_events.record(len(events), {"sink": sink})
        self.batch_size.record(size, {"sink": sink})
        send = SinkSend()
        started = time.monotonic()
        with self.tracer.start_as_current_span(
            "sink send",
            kind=SpanKind.CLIENT,
            attributes={"sink": sink, "events": len(events), "bytes": size, "retry_count": attempt - 1},
        ) as span:
            status = "error"
            try:
                yield send
                result = send.result
                if result is None or not (result.rejected or result.retry):
                    status = "ok"
                else:
                    status = "partial"
                    span.set_attributes({"rejected": len(result.rejected), "retried": len(result.retry)})
            except RetryableError:
                status = "retry"
                raise
            except SinkConfigError:
                status = "config_error"
                raise
            finally:
                span.set_attribute("status", status)
                if status not in ("ok", "partial"):
                    span.set_status(StatusCode.ERROR)
                self.sink_duration.record(time.monotonic() - started, {"sink": sink, "outcome": status})

    # Gauges, read from the registered sinks when a reader collects. The endpoint thread collects
    # while the event loop registers: iterate over a copy.

    def _observed(self) -> list[SinkStatusView]:
        return list(self._sinks.values())

    def _observe_inflight_events(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(sink.inflight_events, {"sink": sink.name}) for sink in self._observed()]

    def _observe_inflight_size(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(sink.inflight_bytes, {"sink": sink.name}) for sink in self._observed()]

    def _observe_sink_state(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(int(sink.state == state), {"sink": sink.name, "state": state})
            for sink in self._observed()
            for state in SINK_STATES
        ]
