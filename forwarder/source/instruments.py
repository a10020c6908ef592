"""The source's metrics and spans: what the streams read, and how the Cloudflare API answered.

:class:`SourceInstruments` is created once from the meter and tracer the caller hands in (as an
OpenTelemetry SDK processor creates its own instruments); without them it records nothing. The
gauges read what registered, whenever a reader collects: every stream's lag and checkpoint age
(:meth:`SourceInstruments.observe_stream`), the client's rate-limit budget and last success
(:meth:`SourceInstruments.observe_client`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import SpanKind, Tracer

from forwarder import __version__
from forwarder.source.errors import CloudflareError, CloudflareRateLimited
from forwarder.telemetry.providers import DURATION_BUCKETS, SCOPE
from forwarder.telemetry.readings import ClientView, StreamView, checkpoint_age, lag


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


class CloudflareCall:
    """One Cloudflare request in flight: the client reports the HTTP status once it has one."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.status_code: int | None = None

    def answered(self, status_code: int) -> None:
        self.status_code = status_code
        self.span.set_attribute("http.response.status_code", status_code)


class SourceInstruments:
    def __init__(self, meter: Meter | None = None, tracer: Tracer | None = None) -> None:
        meter = meter if meter is not None else metrics.NoOpMeter(SCOPE, __version__)
        self.tracer = tracer if tracer is not None else trace.NoOpTracer()
        # By stream key: a stream renewed for a new term of leadership takes over its gauges.
        self._streams: dict[str, StreamView] = {}
        self._client: ClientView | None = None
        self._create_stream_counters(meter)
        self.cloudflare_retries = meter.create_counter(
            "forwarder.cloudflare.retries", "{retry}", "Cloudflare API requests retried, by reason."
        )
        self.cloudflare_duration = meter.create_histogram(
            "forwarder.cloudflare.request.duration",
            "s",
            "Duration of Cloudflare API requests (each attempt).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._create_gauges(meter)

    def _create_stream_counters(self, meter: Meter) -> None:
        event = "{event}"
        self.fetched = meter.create_counter(
            "forwarder.events.fetched", event, "Records read from the Cloudflare API (repeats excluded)."
        )
        self.duplicates = meter.create_counter(
            "forwarder.events.duplicates",
            event,
            "Records read again in a window's overlap and dropped by event id.",
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

    def _create_gauges(self, meter: Meter) -> None:
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

    def observe_stream(self, stream: StreamView) -> None:
        """Read the lag and checkpoint age of ``stream.key`` from ``stream`` from now on."""
        self._streams[stream.key] = stream

    def observe_client(self, client: ClientView) -> None:
        """Read the rate-limit budget and the last success from ``client`` from now on."""
        self._client = client

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

    # Gauges, read from what registered when a reader collects. The endpoint thread collects
    # while the event loop registers renewed streams: iterate over a copy.

    def _observe_lag(self, options: CallbackOptions) -> Iterable[Observation]:
        now = datetime.now(UTC)
        return self._per_stream([(stream, lag(stream.progress, now)) for stream in self._observed()])

    def _observe_checkpoint_age(self, options: CallbackOptions) -> Iterable[Observation]:
        now = datetime.now(UTC)
        return self._per_stream(
            [(stream, checkpoint_age(stream.progress, now)) for stream in self._observed()]
        )

    def _observed(self) -> list[StreamView]:
        return list(self._streams.values())

    @staticmethod
    def _per_stream(values: Iterable[tuple[StreamView, float | None]]) -> list[Observation]:
        return [
            Observation(value, {"stream": stream.key, "log_type": stream.log_type.value})
            for stream, value in values
            if value is not None
        ]

    def _observe_rate_limit(self, options: CallbackOptions) -> Iterable[Observation]:
        remaining = self._client.server_remaining if self._client is not None else None
        return [] if remaining is None else [Observation(remaining)]

    def _observe_last_success(self, options: CallbackOptions) -> Iterable[Observation]:
        last = self._client.last_success if self._client is not None else None
        return [] if last is None else [Observation(max(0.0, time.monotonic() - last))]
