"""The forwarder's metrics and spans: one object the client, the streams and the sinks report to.

:class:`Telemetry` takes its meter and tracer providers from the caller: the command line builds
them from the standard ``OTEL_*`` variables (:mod:`forwarder.telemetry.exporters`), tests pass
providers with in-memory readers, and anything else gets the no-op providers of the API. The
gauges (lag, checkpoint age, in-flight events, sink state, the rate-limit budget) are not kept
here: they are read from the forwarder's own status objects whenever a reader collects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import SpanKind, Tracer

from forwarder import __version__
from forwarder.source.errors import CloudflareError, CloudflareRateLimited
from forwarder.telemetry.providers import DURATION_BUCKETS, SCOPE
from forwarder.telemetry.status import ForwarderView, checkpoint_age, lag

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

Instruments = TypeVar("Instruments")


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
        self.meter = self.meter_provider.get_meter(SCOPE, __version__)
        self._instruments: dict[Callable[..., Any], Any] = {}
        self._forwarder: ForwarderView | None = None
        meter = self.meter
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
        self.cloudflare_retries = meter.create_counter(
            "forwarder.cloudflare.retries", "{retry}", "Cloudflare API requests retried, by reason."
        )
        self.cloudflare_duration = meter.create_histogram(
            "forwarder.cloudflare.request.duration",
            "s",
            "Duration of Cloudflare API requests (each attempt).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
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

    def instruments(self, kind: Callable[[Meter, Tracer], Instruments]) -> Instruments:
        """The one set of ``kind`` on these providers, created on first use.

        Once, however many forwarders are built on these providers: the SDK keeps the callbacks
        of the first observable gauge of a name and drops those of a second, so a second set
        would record its counters but never be observed.
        """
        if kind not in self._instruments:
            self._instruments[kind] = kind(self.meter, self.tracer)
        return cast(Instruments, self._instruments[kind])

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

    def _observe_rate_limit(self, options: CallbackOptions) -> Iterable[Observation]:
        remaining = self._forwarder.client.server_remaining if self._forwarder is not None else None
        return [] if remaining is None else [Observation(remaining)]

    def _observe_last_success(self, options: CallbackOptions) -> Iterable[Observation]:
        last = self._forwarder.client.last_success if self._forwarder is not None else None
        return [] if last is None else [Observation(max(0.0, time.monotonic() - last))]
