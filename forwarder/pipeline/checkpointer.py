"""One stream's checkpoint: it follows the acknowledgements, window by window, and never runs ahead.

A stream hands its records here page by page and says where each window it read ends
(:meth:`Checkpointer.window_read`); the records go on to the pipeline, whose tickets say when every
sink has acknowledged them (or written them to the dead-letter file). :meth:`Checkpointer.run`
commits each window, in order, only once every ticket of it is done, so the checkpoint moves to
``T`` only when every event up to ``T`` is delivered. With the position it keeps the ids of the
events every sink acknowledged in the span a restart reads again, so that a graceful restart
delivers nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from forwarder.checkpoints.base import CheckpointStore
from forwarder.checkpoints.remembered import Delivered, Remembered
from forwarder.pipeline.acknowledgement import Ticket
from forwarder.records import Record

log = logging.getLogger(__name__)

Submit = Callable[[Sequence[Record]], Awaitable[Ticket]]


class CommitProgress(Protocol):
    """Where the checkpointer says how far delivery got (a stream's progress, read by /status)."""

    committed: datetime | None
    newest_delivered: datetime | None


@dataclass(frozen=True)
class Resumed:
    """Where a stream starts: its committed position (or, with none, its start) and the ids kept."""

    position: datetime
    committed: bool
    ids: tuple[str, ...] = ()
    # No re-read goes before it: where the stream first started (None when not known).
    floor: datetime | None = None


@dataclass
class Uncommitted:
    """A window read (or re-read), waiting for every sink to acknowledge it."""

    tickets: list[Ticket]
    position: datetime
    # (event id, time) of the records a restart may read again.
    recent: Sequence[tuple[str, datetime]]


class Checkpointer:
    """The commits of one stream, and its way into the pipeline."""

    def __init__(
        self,
        stream: str,
        store: CheckpointStore,
        submit: Submit,
        *,
        reread_span: timedelta,
        checkpoint_ids: int,
    ) -> None:
        self.stream = stream
        self.store = store
        self._submit = submit
        # How far before a position a later read may go again: ids that old are no longer kept.
        self.reread_span = reread_span
        self.checkpoint_ids = checkpoint_ids
        # Tickets of the window being read, then the windows read but not yet acknowledged, in order.
        self._tickets: list[Ticket] = []
        self._uncommitted: asyncio.Queue[Uncommitted] = asyncio.Queue()
        # What every sink acknowledged in the re-read span: kept with each checkpoint.
        self._delivered = Delivered()
        self._floor: datetime | None = None
        self._warned_bound = False

    async def resume(self, start: datetime) -> Resumed:
        """The committed position, with the ids and the floor kept beside it; ``start`` if none."""
        committed = await self.store.load(self.stream)
        if committed is None:
            self._floor = start
            return Resumed(start, committed=False, floor=start)
        remembered = Remembered.decode(await self.store.load_remembered(self.stream))
        if remembered is None:
            return Resumed(committed, committed=True)
        self._floor = remembered.floor
        # Still delivered: the next checkpoint keeps them too, until they leave the span.
        self._delivered.add((prefix, committed) for prefix in remembered.ids)
        return Resumed(committed, committed=True, ids=remembered.ids, floor=remembered.floor)

    async def submit(self, records: Sequence[Record]) -> None:
        """Hand ``records`` to the pipeline (waiting while a sink's in-flight window is full)."""
        self._tickets.append(await self._submit(records))

    async def window_read(self, position: datetime, recent: Sequence[tuple[str, datetime]]) -> None:
        """Everything submitted since the last window ends at ``position``: commit it once delivered."""
        tickets, self._tickets = self._tickets, []
        await self._uncommitted.put(Uncommitted(tickets, position, recent))

    async def run(self, progress: CommitProgress) -> None:
        """Commit each window read, in order, once every sink has acknowledged all of it; say so in
        ``progress``."""
        while True:
            window = await self._uncommitted.get()
            for ticket in window.tickets:
                await ticket.done.wait()
                newest = progress.newest_delivered
                if ticket.newest is not None and (newest is None or ticket.newest > newest):
                    progress.newest_delivered = ticket.newest
            self._delivered.add(window.recent)
            self._delivered.forget_before(window.position - self.reread_span)
            committed = progress.committed
            if committed is None or window.position > committed or window.recent:
                await self.store.commit(self.stream, window.position, self._remembered())
                progress.committed = max(window.position, committed or window.position)
            self._uncommitted.task_done()

    async def flush(self) -> None:
        """Wait until every window read so far is committed."""
        await self._uncommitted.join()

    def _remembered(self) -> bytes:
        ids, oldest_left_out = self._delivered.newest(self.checkpoint_ids)
        if oldest_left_out is not None and not self._warned_bound:
            self._warned_bound = True
            log.warning(
                "more events in the re-read span than FORWARDER_CHECKPOINT_IDS keeps with the "
                "checkpoint: after a restart, events at or before the time given may be delivered again",
                extra={"stream": self.stream, "kept": len(ids), "time": oldest_left_out.isoformat()},
            )
        return Remembered(ids, self._floor).encode()
