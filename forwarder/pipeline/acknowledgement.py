"""The ticket a stream's records get back from the pipeline: done once every sink acknowledged them.

The pipeline settles tickets without knowing who waits on them: the checkpointer
(:mod:`forwarder.pipeline.checkpointer`) waits on them before it commits, and a listener (``demo``)
may be told when one is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime


class Ticket:
    """A group of events (one page of one stream) and how many (event, sink) deliveries are left."""

    def __init__(
        self, pending: int, *, newest: datetime | None = None, on_done: Callable[[], None] | None = None
    ) -> None:
        self.pending = pending
        # The time of the newest event of the group: a stream's lag once the ticket is done.
        self.newest = newest
        self.done = asyncio.Event()
        self._on_done = on_done
        if pending <= 0:
            self._finish()

    def settle(self, count: int = 1) -> None:
        self.pending -= count
        if self.pending <= 0:
            self._finish()

    def _finish(self) -> None:
        self.done.set()
        # Called once, then let go: what it holds (the records) is not kept until the commit.
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done()
