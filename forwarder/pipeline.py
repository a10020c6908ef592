"""From records to every sink: map once per format, batch per sink, retry, dead-letter, acknowledge.

:meth:`Pipeline.deliver` returns only when every record has been delivered to every sink or
written to the dead-letter file; that is the moment a stream may commit its checkpoint. It raises
:class:`SinkStopped` when a sink reports a configuration error: nothing is committed then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from forwarder.dead_letters import DeadLetters
from forwarder.mapping import Format, mapper_for
from forwarder.records import Record
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, RetryableError, Sink, SinkConfigError

log = logging.getLogger(__name__)


class SinkStopped(Exception):
    """A sink has a configuration error: it is stopped and no checkpoint moves past its events."""

    def __init__(self, sink: str, reason: str) -> None:
        super().__init__(f"sink {sink} stopped: {reason}")
        self.sink = sink
        self.reason = reason


@dataclass
class SinkStatus:
    """What an operator wants to know about one sink."""

    name: str
    description: str
    state: str = "starting"
    last_error: str = ""
    delivered: int = 0
    rejected: int = 0
    retries: int = 0


def batches(events: Sequence[Event], max_events: int, max_bytes: int) -> Iterator[list[Event]]:
    """Consecutive slices within both limits; an event larger than ``max_bytes`` goes alone."""
    batch: list[Event] = []
    size = 0
    for event in events:
        length = len(event.body) + 1
        if batch and (len(batch) >= max_events or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += length
    if batch:
        yield batch


class Pipeline:
    def __init__(
        self,
        sinks: Sequence[Sink],
        dead_letters: DeadLetters,
        *,
        backoff: Backoff,
        max_event_age: float,
    ) -> None:
        self.sinks = list(sinks)
        self.dead_letters = dead_letters
        self.backoff = backoff
        self.max_event_age = timedelta(seconds=max_event_age)
        self.status = {sink.name: SinkStatus(sink.name, sink.describe()) for sink in self.sinks}
        self.formats: tuple[Format, ...] = tuple(dict.fromkeys(sink.format for sink in self.sinks))

    async def open(self) -> None:
        for sink in self.sinks:
            try:
                await sink.open()
            except SinkConfigError as error:
                self._stopped(sink, str(error))
            self.status[sink.name].state = "ok"

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()

    async def deliver(self, records: Sequence[Record]) -> None:
        if not records:
            return
        events = {fmt: await self._encode(records, fmt) for fmt in self.formats}
        results = await asyncio.gather(
            *(self._deliver_to(sink, events[sink.format]) for sink in self.sinks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _encode(self, records: Sequence[Record], fmt: Format) -> list[Event]:
        mapper = mapper_for(fmt)
        events = []
        for record in records:
            try:
                document = mapper(record)
                events.append(Event(record, document, orjson.dumps(document)))
            except Exception as error:
                # The mappings are meant to be total; if one is not, keep the record, loudly.
                users = ",".join(sink.name for sink in self.sinks if sink.format == fmt)
                await self.dead_letters.add(
                    record, sink=users, reason=f"mapping to {fmt} failed: {type(error).__name__}: {error}"
                )
        return events

    async def _deliver_to(self, sink: Sink, events: Sequence[Event]) -> None:
        settings = sink.settings
        for batch in batches(events, settings.batch_max_events, settings.batch_max_bytes):
            await self._deliver_batch(sink, batch)

    async def _deliver_batch(self, sink: Sink, batch: list[Event]) -> None:
        status = self.status[sink.name]
        pending = batch
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            wait=self.backoff.waiter(),
            stop=stop_never,
            reraise=True,
            before_sleep=lambda state: self._note_retry(sink, state),
        )
        async for attempt in retrying:
            with attempt:
                pending = await self._expire(sink, pending)
                if not pending:
                    return
                try:
                    result = await sink.send(pending)
                except SinkConfigError as error:
                    self._stopped(sink, str(error))
                for rejection in result.rejected:
                    status.rejected += 1
                    await self.dead_letters.add(
                        rejection.event.record,
                        sink=sink.name,
                        reason=rejection.reason,
                        document=rejection.event.document,
                    )
                status.delivered += len(pending) - len(result.rejected) - len(result.retry)
                status.state = "ok"
                pending = result.retry
                if pending:
                    raise RetryableError(
                        result.retry_reason or f"{len(pending)} events to send again", result.retry_after
                    )

    async def _expire(self, sink: Sink, events: list[Event]) -> list[Event]:
        """Dead-letter events past FORWARDER_MAX_EVENT_AGE: retrying them forever helps no one."""
        oldest = datetime.now(UTC) - self.max_event_age
        kept = []
        for event in events:
            if event.time < oldest:
                await self.dead_letters.add(
                    event.record,
                    sink=sink.name,
                    reason=f"expired: still undelivered after FORWARDER_MAX_EVENT_AGE "
                    f"({self.max_event_age.total_seconds():.0f} s); last error: "
                    f"{self.status[sink.name].last_error or 'none'}",
                    document=event.document,
                )
            else:
                kept.append(event)
        return kept

    def _note_retry(self, sink: Sink, state: RetryCallState) -> None:
        status = self.status[sink.name]
        error = state.outcome.exception() if state.outcome is not None else None
        status.retries += 1
        status.state = "retrying"
        status.last_error = str(error)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "sink delivery failed, retrying",
            extra={"sink": sink.name, "reason": str(error), "attempt": state.attempt_number, "wait": wait},
        )

    def _stopped(self, sink: Sink, reason: str) -> None:
        status = self.status[sink.name]
        status.state = "config_error"
        status.last_error = reason
        log.error("sink stopped by a configuration error", extra={"sink": sink.name, "reason": reason})
        raise SinkStopped(sink.name, reason)
