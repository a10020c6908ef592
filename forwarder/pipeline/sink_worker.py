"""One sink's side of the pipeline: its queue, its batches, its retries and its in-flight window.

Each sink has a :class:`SinkWorker`, so a sink that is slow or down never holds up another sink's
deliveries; it only holds back the checkpoint, and only within its bounded in-flight window (events
and bytes). When that window is full, :meth:`SinkWorker.put` waits, which pauses the streams feeding
it: memory stays bounded however long the outage lasts, and nothing is dropped to make room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice, repeat

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from forwarder.pipeline.acknowledgement import Ticket
from forwarder.pipeline.dead_letters import DeadLetter, DeadLetters
from forwarder.pipeline.instruments import PipelineInstruments
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, RetryableError, SendResult, Sink, SinkConfigError

log = logging.getLogger(__name__)


class Abandoned(Exception):
    """This replica may no longer ship (its lease may have expired): the batch is dropped unsent."""


class PartialRetry(RetryableError):
    """Some events of a batch are to be sent again; the sink took or rejected the others."""


class Item:
    """One event queued for one sink, with the ticket it settles."""

    __slots__ = ("event", "queued", "size", "ticket")

    def __init__(self, event: Event, ticket: Ticket, queued: float) -> None:
        self.event = event
        self.ticket = ticket
        # time.monotonic() when it was queued for the sink: FORWARDER_MAX_EVENT_AGE counts from here.
        self.queued = queued
        # Read several times per delivery (window, batch cut, settling): computed once.
        self.size = len(event.body) + 1


@dataclass
class SinkStatus:
    """What an operator wants to know about one sink."""

    name: str
    description: str
    state: str = "starting"
    last_error: str = ""
    delivered: int = 0
    rejected: int = 0
    expired: int = 0
    retries: int = 0
    batches: int = 0
    inflight_events: int = 0
    inflight_bytes: int = 0


class SinkWorker:
    def __init__(
        self,
        sink: Sink,
        dead_letters: DeadLetters,
        *,
        backoff: Backoff,
        max_event_age: float,
        on_stopped: Callable[[str, str], None],
        telemetry: PipelineInstruments | None = None,
        may_send: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sink = sink
        # Asked before every attempt: a replica that may have lost its lease starts no request.
        self.may_send = may_send
        self.telemetry = telemetry if telemetry is not None else PipelineInstruments()
        self.dead_letters = dead_letters
        self.backoff = backoff
        self.max_event_age = max_event_age
        self.on_stopped = on_stopped
        self.status = SinkStatus(sink.name, sink.describe())
        self.telemetry.observe_sink(self.status)
        settings = sink.settings
        self.max_inflight_events = settings.max_inflight_events
        self.max_inflight_bytes = settings.max_inflight_bytes
        self._queue: deque[Item] = deque()
        self._changed = asyncio.Condition()
        self._sending = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Bumped by `abandon`: a batch cut in an earlier epoch is never sent.
        self._epoch = 0

    @property
    def stopped(self) -> bool:
        return self.status.state == "config_error"

    @property
    def idle(self) -> bool:
        return self.status.inflight_events == 0

    async def put(self, items: Sequence[Item]) -> None:
        """Queue ``items``, waiting while the in-flight window is full.

        A group larger than the whole window is let in when the window is empty, so one big page
        cannot wait forever.
        """
        if not items:
            return
        size = sum([item.size for item in items])
        status = self.status
        async with self._changed:
            await self._changed.wait_for(
                lambda: (
                    status.inflight_events == 0
                    or (
                        status.inflight_events + len(items) <= self.max_inflight_events
                        and status.inflight_bytes + size <= self.max_inflight_bytes
                    )
                )
            )
            status.inflight_events += len(items)
            status.inflight_bytes += size
            self._queue.extend(items)
            self._changed.notify_all()

    async def run(self) -> None:
        """Cut batches from the queue and send them, up to ``concurrency`` at a time."""
        try:
            while True:
                batch = await self._next_batch()
                epoch = self._epoch
                await self._sending.acquire()
                task = asyncio.create_task(self._send(batch, epoch), name=f"send:{self.sink.name}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def wait_idle(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.idle or self.stopped)

    async def _next_batch(self) -> list[Item]:
        """A batch full by count or bytes, or whatever is queued once the oldest waited its age."""
        settings = self.sink.settings
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._queue))
            deadline = time.monotonic() + settings.batch_max_age
            while not self._full(settings.batch_max_events, settings.batch_max_bytes):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=left)
                except TimeoutError:
                    break
            return self._take(settings.batch_max_events, settings.batch_max_bytes)

    def _full(self, max_events: int, max_bytes: int) -> bool:
        if len(self._queue) >= max_events:
            return True
        size = 0
        for item in self._queue:
            size += item.size
            if size >= max_bytes:
                return True
        return False

    def _take(self, max_events: int, max_bytes: int) -> list[Item]:
        """The oldest items, as many as ``max_events`` and ``max_bytes`` allow (the first always)."""
        queue = self._queue
        batch = list(islice(queue, max_events))
        if sum([item.size for item in batch]) > max_bytes:
            # Rare (batches are usually cut by count): keep the items that fit, in order.
            size = 0
            for index, item in enumerate(batch):
                if index and size + item.size > max_bytes:
                    del batch[index:]
                    break
                size += item.size
        if len(batch) == len(queue):
            queue.clear()
        else:
            popleft = queue.popleft
            for _ in repeat(None, len(batch)):
                popleft()
        return batch

    async def _send(self, batch: list[Item], epoch: int) -> None:
        # One span per batch, the attempts its children: retry and stop log lines carry its trace id.
        with self.telemetry.tracer.start_as_current_span(
            "sink deliver", attributes={"sink": self.sink.name, "events": len(batch)}
        ):
            try:
                await self._deliver(batch, epoch)
            except SinkConfigError as error:
                self.stop(str(error))
            except Abandoned:
                pass  # unacknowledged and uncommitted: whoever reads next sends it again
            except Exception as error:
                # A bug in the sink or a library it calls: the batch can neither be settled nor
                # retried knowingly. Stopping the sink says so loudly and keeps its events
                # uncommitted; letting the task die would leave the batch in flight forever.
                log.exception("sink failed with an unexpected error", extra={"sink": self.sink.name})
                reason = f"unexpected {type(error).__name__} while sending: {error}"
                self.stop(reason, cause="an unexpected error")
            finally:
                self._sending.release()

    async def _deliver(self, batch: list[Item], epoch: int) -> None:
        """Send until every item is delivered, rejected (dead letters) or expired (dead letters)."""
        status = self.status
        pending = batch
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            wait=self.backoff.waiter(),
            stop=stop_never,
            reraise=True,
            before_sleep=self._note_retry,
        )
        async for attempt in retrying:
            with attempt:
                if epoch != self._epoch or not self.may_send():
                    raise Abandoned
                pending = await self._expire(pending)
                if not pending:
                    return
                if self.stopped:
                    # Another batch found a configuration error: do not hammer the receiver.
                    raise SinkConfigError(status.last_error)
                events = [item.event for item in pending]
                # Each item's size is its body plus one byte, as the instruments count it.
                size = sum([item.size for item in pending])
                with self.telemetry.sink_send(
                    self.sink.name, events, attempt.retry_state.attempt_number, size
                ) as send:
                    result = await self.sink.send(events)
                    send.result = result
                pending = await self._answered(pending, events, size, result)
                if pending:
                    raise PartialRetry(
                        result.retry_reason or f"{len(pending)} events to send again", result.retry_after
                    )

    async def _answered(
        self, pending: list[Item], events: list[Event], size: int, result: SendResult
    ) -> list[Item]:
        """Settle what the sink's ``result`` says about ``pending`` (sent as ``events``, ``size`` bytes):
        dead-letter the rejected, settle the delivered. The items to send again."""
        status = self.status
        status.batches += 1
        status.rejected += len(result.rejected)
        self.telemetry.events_rejected(self.sink.name, (reject.event for reject in result.rejected))
        await self.dead_letters.add_many(
            DeadLetter(rejection.event.record, self.sink.name, rejection.reason, rejection.event.document)
            for rejection in result.rejected
        )
        delivered = pending
        delivered_events = events
        delivered_size: int | None = size
        again: list[Item] = []
        if result.rejected or result.retry:
            # Looked up only when some events did not go through: most batches all do.
            by_event = {id(item.event): item for item in pending}
            await self._settle([by_event[id(rejection.event)] for rejection in result.rejected])
            undelivered = {id(event) for event in result.retry}
            undelivered.update(id(rejection.event) for rejection in result.rejected)
            delivered = [item for item in pending if id(item.event) not in undelivered]
            delivered_events = [item.event for item in delivered]
            delivered_size = None
            again = [by_event[id(event)] for event in result.retry]
        status.delivered += len(delivered)
        self.telemetry.events_delivered(self.sink.name, delivered_events)
        await self._settle(delivered, delivered_size)
        if status.state != "ok":
            log.info("sink delivers again", extra={"sink": self.sink.name})
        status.state = "ok"
        return again

    async def _expire(self, items: list[Item]) -> list[Item]:
        """Dead-letter events queued longer than FORWARDER_MAX_EVENT_AGE: retrying them forever
        helps no one.

        The age counts from when the event was queued for this sink, not from the event's own time:
        a backfill of records older than the limit is delivered like any other.
        """
        oldest = time.monotonic() - self.max_event_age
        kept = [item for item in items if item.queued >= oldest]
        if len(kept) == len(items):
            return kept
        expired = [item for item in items if item.queued < oldest]
        reason = (
            "expired: undelivered after FORWARDER_MAX_EVENT_AGE "
            f"({self.max_event_age:.0f} s); "
            f"last error: {self.status.last_error or 'none'}"
        )
        self.status.expired += len(expired)
        self.telemetry.events_expired(self.sink.name, (item.event for item in expired))
        await self.dead_letters.add_many(
            DeadLetter(item.event.record, self.sink.name, reason, item.event.document) for item in expired
        )
        await self._settle(expired)
        return kept

    async def _settle(self, items: Sequence[Item], size: int | None = None) -> None:
        """Settle ``items`` (their tickets) and take them out of the in-flight window; ``size``: their
        sizes' sum, when the caller has it already."""
        if not items:
            return
        # A page's items are queued together, so they come in runs of one ticket: one settle per run.
        ticket = items[0].ticket
        count = 0
        for item in items:
            if item.ticket is not ticket:
                ticket.settle(count)
                ticket, count = item.ticket, 0
            count += 1
        ticket.settle(count)
        async with self._changed:
            # Never below zero: items of an abandoned epoch may settle after the window was emptied.
            self.status.inflight_events = max(0, self.status.inflight_events - len(items))
            if size is None:
                size = sum([item.size for item in items])
            self.status.inflight_bytes = max(0, self.status.inflight_bytes - size)
            self._changed.notify_all()

    def _note_retry(self, state: RetryCallState) -> None:
        status = self.status
        error = state.outcome.exception() if state.outcome is not None else None
        status.retries += 1
        self.telemetry.sink_retry(self.sink.name, error, partial=isinstance(error, PartialRetry))
        if status.state == "ok":
            log.warning("sink failing, retrying", extra={"sink": self.sink.name, "reason": str(error)})
        status.state = "retrying"
        status.last_error = str(error)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.debug(
            "sink retry",
            extra={
                "sink": self.sink.name,
                "reason": str(error),
                "attempt": state.attempt_number,
                "wait": wait,
            },
        )

    async def abandon(self) -> int:
        """Drop every queued event and cancel every send in flight, unacknowledged: their tickets
        never complete, so nothing is committed past them. The count of events dropped.

        For a replica that lost its lease: the next leader reads these events again, and this one
        must not ship them meanwhile. The worker goes on, empty, for the next term; a batch cut
        before this moment and not yet sent is dropped when its turn comes (its epoch is past).
        """
        self._epoch += 1
        for task in list(self._tasks):
            task.cancel()
        async with self._changed:
            dropped = self.status.inflight_events
            self._queue.clear()
            self.status.inflight_events = 0
            self.status.inflight_bytes = 0
            self._changed.notify_all()
        return dropped

    def stop(self, reason: str, *, cause: str = "a configuration error") -> None:
        """Stop this sink (a configuration error, or a bug): its events stay uncommitted until it is fixed."""
        if self.stopped:
            return
        self.status.state = "config_error"
        self.status.last_error = reason
        log.error(
            f"sink stopped by {cause}; its events stay uncommitted until it is fixed",
            extra={"sink": self.sink.name, "reason": reason},
        )
        self.on_stopped(self.sink.name, reason)
