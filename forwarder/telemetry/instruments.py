"""The forwarder's metrics and spans: one object the client, the streams and the sinks report to.

:class:`Telemetry` takes its meter and tracer providers from the caller: the command line builds
them from the standard ``OTEL_*`` variables (:mod:`forwarder.telemetry.exporters`), tests pass
providers with in-memory readers, and anything else gets the no-op providers of the API. The
gauges (lag, checkpoint age, in-flight events, sink state, the rate-limit budget) are not kept
here: they are read from the forwarder's own status objects whenever a reader collects.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, StatusCode

from forwarder import __version__
from forwarder.records import Record
from forwarder.sinks.base import Event, RetryableError, SendResult, SinkConfigError
from forwarder.source.errors import CloudflareError, CloudflareRateLimited
from forwarder.telemetry.status import ForwarderView, checkpoint_age, lag

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

SCOPE = "forwarder"
SINK_STATES = ("starting", "ok", "retrying", "config_error")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
EVENT_COUNT_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
SIZE_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


def stream_key(record: Record) -> str:
    return f"{record.account_id}/{record.log_type.value}"


def by_stream(events: Iterable[Event]) -> dict[tuple[str, str], int]:
    """Events per (stream, log type); counted by record fields, named once per stream."""
    counts = Counter((event.record.account_id, event.record.log_type) for event in events)
    return {
        (f"{account_id}/{log_type.value}", log_type.value): count
        for (account_id, log_type), count in counts.items()
    }


def cloudflare_retry_reason(error: BaseException | None) -> str:
    """A small, fixed set of reasons a Cloudflare request is retried, for a metric attribute."""
    if isinstance(error, CloudflareRateLimited):
        return "rate_limited"
    cause = error.__cause__ if error is not None else None
    if isinstance(cause, httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, httpx.TransportError):
        return "connection"
    if isinstance(error, CloudflareError) and error.status is not None:
        if error.status == 429:
            return "rate_limited"
        if error.status >= 500:
            return "server_error"
        return "client_error"
    return "other"


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


class CloudflareCall:
    """One Cloudflare request in flight: the client reports the HTTP status once it has one."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.status_code: int | None = None

    def answered(self, status_code: int) -> None:
        self.status_code = status_code
        self.span.set_attribute("http.response.status_code", status_code)


class SinkSend:
    """What one ``send`` returned; the context manager of :meth:`Telemetry.sink_send` reads it."""

    def __init__(self) -> None:
        self.result: SendResult | None = None


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
        self.tracer = self.tracer_provider.get_tracer(SCOPE, __version__)
        self._forwarder: ForwarderView | None = None
        meter = self.meter_provider.get_meter(SCOPE, __version__)
        event = "{event}"
        self.fetched = meter.create_counter(
            "forwarder.events.fetched", event, "Records read from the Cloudflare API (repeats excluded)."
        )
        self.duplicates = meter.create_counter(
            "forwarder.events.duplicates",
            event,
            "Records read again in a window's overlap and dropped by event id.",
        )
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
        self.windows = meter.create_counter(
            "forwarder.stream.windows", "{window}", "Time windows read from the Cloudflare API."
        )
        self.rereads = meter.create_counter(
            "forwarder.stream.late_rereads",
            "{window}",
            "Trailing re-reads of the late horizon (FORWARDER_LATE_HORIZON), for rows that appear late.",
        )
        self.late = meter.create_counter(
            "forwarder.events.late",
            event,
            "Records found only by a trailing re-read: they appeared after the window that covered them.",
        )
        self.unreadable = meter.create_counter(
            "forwarder.stream.unreadable_seconds",
            "{second}",
            "Seconds of a stream skipped because the API could not serve all of their rows (an error "
            "log names each).",
        )
        self.cloudflare_retries = meter.create_counter(
            "forwarder.cloudflare.retries", "{retry}", "Cloudflare API requests retried, by reason."
        )
        self.sink_retries = meter.create_counter(
            "forwarder.sink.retries", "{retry}", "Batches sent to a sink again, by reason."
        )
        self.cloudflare_duration = meter.create_histogram(
            "forwarder.cloudflare.request.duration",
            "s",
            "Duration of Cloudflare API requests (each attempt).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
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
        meter.create_observable_gauge(
            "forwarder.stream.lag",
            [self._observe_lag],
            "s",
            "Now minus the time of the newest event that every sink acknowledged.",
        )
        meter.create_observable_gauge(
            "forwarder.stream.checkpoint.age",
            [self._observe_checkpoint_age],
            "s",
            "Now minus the committed checkpoint of the stream.",
        )
        meter.create_observable_gauge(
            "forwarder.sink.inflight.events",
            [self._observe_inflight_events],
            event,
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
        meter.create_observable_gauge(
            "forwarder.cloudflare.rate_limit.remaining",
            [self._observe_rate_limit],
            "{request}",
            "Requests left in the current rate-limit period, as Cloudflare last reported.",
        )
        meter.create_observable_gauge(
            "forwarder.cloudflare.last_success.age",
            [self._observe_last_success],
            "s",
            "Seconds since the Cloudflare API last answered a request successfully.",
        )

    def watch(self, forwarder: ForwarderView) -> None:
        """Read the gauges from ``forwarder``'s streams, sinks and client from now on."""
        self._forwarder = forwarder

    def shutdown(self) -> None:
        """Flush and stop the exporters (OTLP sends what it holds)."""
        for provider in (self.meter_provider, self.tracer_provider):
            shutdown = getattr(provider, "shutdown", None)
            if shutdown is not None:
                shutdown()

    # Recording, called where things happen.

    def events_fetched(self, stream: str, log_type: str, fresh: int, repeated: int) -> None:
        attributes = {"stream": stream, "log_type": log_type}
        self.fetched.add(fresh, attributes)
        if repeated:
            self.duplicates.add(repeated, attributes)

    def window_read(self, stream: str, log_type: str, *, complete: bool) -> None:
        self.windows.add(1, {"stream": stream, "log_type": log_type, "complete": complete})

    def late_reread(self, stream: str, log_type: str, found: int) -> None:
        attributes = {"stream": stream, "log_type": log_type}
        self.rereads.add(1, attributes)
        if found:
            self.late.add(found, attributes)

    def second_skipped(self, stream: str, log_type: str) -> None:
        self.unreadable.add(1, {"stream": stream, "log_type": log_type})

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

    def cloudflare_retry(self, error: BaseException | None) -> None:
        self.cloudflare_retries.add(1, {"reason": cloudflare_retry_reason(error)})

    @contextmanager
    def cloudflare_request(self, operation: str, url: str) -> Iterator[CloudflareCall]:
        """A client span and a duration per Cloudflare request (each attempt)."""
        started = time.monotonic()
        attributes = {"operation": operation, "http.request.method": "GET", "url.full": url}
        with self.tracer.start_as_current_span(
            f"GET {operation}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            call = CloudflareCall(span)
            outcome: dict[str, str | int] = {"operation": operation}
            try:
                yield call
            except BaseException as error:
                outcome["error.type"] = type(error).__name__
                raise
            finally:
                if call.status_code is not None:
                    outcome["http.response.status_code"] = call.status_code
                self.cloudflare_duration.record(time.monotonic() - started, outcome)

    @contextmanager
    def sink_send(self, sink: str, events: Sequence[Event], attempt: int) -> Iterator[SinkSend]:
        """Span, duration and batch size of one ``send``; the outcome is read from the result."""
        size = sum(len(event.body) + 1 for event in events)
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

    # Gauges, read from the forwarder's own status objects when a reader collects.

    def _observe_lag(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._forwarder is None:
            return []
        now = datetime.now(UTC)
        found = []
        for stream in self._forwarder.streams:
            value = lag(stream.progress, now)
            if value is not None:
                found.append(Observation(value, {"stream": stream.key, "log_type": stream.log_type.value}))
        return found

    def _observe_checkpoint_age(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._forwarder is None:
            return []
        now = datetime.now(UTC)
        found = []
        for stream in self._forwarder.streams:
            value = checkpoint_age(stream.progress, now)
            if value is not None:
                found.append(Observation(value, {"stream": stream.key, "log_type": stream.log_type.value}))
        return found

    def _observe_inflight_events(self, options: CallbackOptions) -> Iterable[Observation]:
        workers = self._forwarder.pipeline.workers if self._forwarder is not None else []
        return [Observation(worker.status.inflight_events, {"sink": worker.sink.name}) for worker in workers]

    def _observe_inflight_size(self, options: CallbackOptions) -> Iterable[Observation]:
        workers = self._forwarder.pipeline.workers if self._forwarder is not None else []
        return [Observation(worker.status.inflight_bytes, {"sink": worker.sink.name}) for worker in workers]

    def _observe_sink_state(self, options: CallbackOptions) -> Iterable[Observation]:
        workers = self._forwarder.pipeline.workers if self._forwarder is not None else []
        return [
            Observation(int(worker.status.state == state), {"sink": worker.sink.name, "state": state})
            for worker in workers
            for state in SINK_STATES
        ]

    def _observe_rate_limit(self, options: CallbackOptions) -> Iterable[Observation]:
        remaining = self._forwarder.client.server_remaining if self._forwarder is not None else None
        return [] if remaining is None else [Observation(remaining)]

    def _observe_last_success(self, options: CallbackOptions) -> Iterable[Observation]:
        last = self._forwarder.client.last_success if self._forwarder is not None else None
        return [] if last is None else [Observation(max(0.0, time.monotonic() - last))]
