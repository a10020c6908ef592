"""From records to every sink: map once per format, hand to each sink's worker, track acknowledgement.

:meth:`Pipeline.submit` maps a group of records (a page) once per output format, queues the events
on every sink's worker (waiting while a worker's in-flight window is full: that is the
backpressure that pauses a stream) and returns a :class:`Ticket`. The ticket is done when every
event has been delivered to every sink or written to the dead-letter file; only then may the
stream commit past it. A sink with a configuration error is stopped: its tickets never complete,
so no checkpoint moves past its events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from forwarder.formats import Format, encoder_for
from forwarder.pipeline.acknowledgement import Ticket
from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.instruments import PipelineInstruments
from forwarder.pipeline.sink_worker import Item, SinkStatus, SinkWorker
from forwarder.records import Record
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, Sink, SinkConfigError

log = logging.getLogger(__name__)


class SinkStopped(Exception):
    """A sink has a configuration error: it is stopped and no checkpoint moves past its events."""

    def __init__(self, sink: str, reason: str) -> None:
        super().__init__(f"sink {sink} stopped: {reason}")
        self.sink = sink
        self.reason = reason


class Pipeline:
    def __init__(
        self,
        sinks: Sequence[Sink],
        dead_letters: DeadLetters,
        *,
        backoff: Backoff,
        max_event_age: float,
        telemetry: PipelineInstruments | None = None,
        may_send: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sinks = list(sinks)
        self.dead_letters = dead_letters
        self.telemetry = telemetry if telemetry is not None else PipelineInstruments()
        self.workers = [
            SinkWorker(
                sink,
                dead_letters,
                backoff=backoff,
                max_event_age=max_event_age,
                on_stopped=self._stopped,
                telemetry=self.telemetry,
                may_send=may_send,
            )
            for sink in self.sinks
        ]
        self.formats: tuple[Format, ...] = tuple(dict.fromkeys(sink.format for sink in self.sinks))
        self.stopped: dict[str, str] = {}
        self.stopped_event = asyncio.Event()
        self._runs: list[asyncio.Task[None]] = []
        self._acknowledged: list[Callable[[Sequence[Record]], None]] = []

    @property
    def status(self) -> dict[str, SinkStatus]:
        return {worker.sink.name: worker.status for worker in self.workers}

    def on_acknowledged(self, listener: Callable[[Sequence[Record]], None]) -> None:
        """Call ``listener`` with each group of records submitted from now on, once every sink has
        acknowledged it (or written it to the dead-letter file). Never for abandoned events."""
        self._acknowledged.append(listener)

    async def open(self) -> None:
        """Open every sink and start its worker; a sink that cannot open is stopped, loudly."""
        for worker in self.workers:
            try:
                await worker.sink.open()
            except SinkConfigError as error:
                worker.stop(str(error))
                continue
            worker.status.state = "ok"
        self._runs = [
            asyncio.create_task(worker.run(), name=f"sink:{worker.sink.name}") for worker in self.workers
        ]

    async def close(self) -> None:
        for task in self._runs:
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        self._runs = []
        for sink in self.sinks:
            await sink.close()

    async def submit(self, records: Sequence[Record]) -> Ticket:
        """Queue ``records`` for every sink; the ticket is done once all are acknowledged."""
        events = {fmt: await self._encode(records, fmt) for fmt in self.formats}
        ticket = Ticket(
            sum(len(events[worker.sink.format]) for worker in self.workers),
            # Records without a time of their own say nothing about how far behind the stream is.
            newest=max((record.timestamp for record in records if record.timestamp), default=None),
            on_done=self._report_acknowledged(records),
        )
        queued = time.monotonic()
        for worker in self.workers:
            await worker.put([Item(event, ticket, queued) for event in events[worker.sink.format]])
        return ticket

    async def deliver(self, records: Sequence[Record]) -> None:
        """Submit and wait for acknowledgement; raises SinkStopped if a sink stops meanwhile."""
        ticket = await self.submit(records)
        await self.wait(ticket)

    async def wait(self, ticket: Ticket) -> None:
        """Wait for ``ticket``; raise SinkStopped when a sink stops first (it would never complete)."""
        if ticket.done.is_set():
            return
        done = asyncio.ensure_future(ticket.done.wait())
        stopped = asyncio.ensure_future(self.stopped_event.wait())
        try:
            await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            stopped.cancel()
        if not ticket.done.is_set():
            self.raise_if_stopped()

    def raise_if_stopped(self) -> None:
        for sink, reason in self.stopped.items():
            raise SinkStopped(sink, reason)

    async def abandon(self) -> int:
        """Drop every unacknowledged event of every sink (a lost lease); how many were dropped."""
        return sum([await worker.abandon() for worker in self.workers])

    async def drain(self) -> None:
        """Wait until every queued event is acknowledged (or its sink stopped)."""
        await asyncio.gather(*(worker.wait_idle() for worker in self.workers))

    def _report_acknowledged(self, records: Sequence[Record]) -> Callable[[], None] | None:
        if not self._acknowledged:
            return None
        listeners = list(self._acknowledged)

        def report() -> None:
            for listener in listeners:
                listener(records)

        return report

    async def _encode(self, records: Sequence[Record], fmt: Format) -> list[Event]:
        encode = encoder_for(fmt)
        try:
            # The usual case, every record maps: one comprehension, no handler set up per record.
            events = [Event(record, encode(record)) for record in records]
        except Exception:
            # Some record does not map: map them one by one, to keep the others (formats are pure).
            events = await self._encode_each(records, fmt, encode)
        self.telemetry.events_mapped(records, fmt, len(events))
        return events

    async def _encode_each(
        self, records: Sequence[Record], fmt: Format, encode: Callable[[Record], bytes]
    ) -> list[Event]:
        events = []
        for record in records:
            try:
                events.append(Event(record, encode(record)))
            except Exception as error:
                # The mappings are meant to be total; if one is not, keep the record, loudly.
                users = [sink.name for sink in self.sinks if sink.format == fmt]
                self.telemetry.mapping_failed(record, users)
                await self.dead_letters.add(
                    record,
                    sink=",".join(users),
                    reason=f"mapping to {fmt} failed: {type(error).__name__}: {error}",
                )
        return events

    def _stopped(self, sink: str, reason: str) -> None:
        self.stopped[sink] = reason
        self.stopped_event.set()
