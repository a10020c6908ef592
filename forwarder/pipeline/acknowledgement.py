"""The ticket a stream gets back for a page: the one thing the source and the pipeline both know.

It lives apart from both so that the source (:mod:`forwarder.source`) waits on deliveries
without importing the pipeline that makes them, and the pipeline settles tickets without knowing
who waits on them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime


class Ticket:
    """A group of events (one page of one stream) and how many (event, sink) deliveries are left."""

    def __init__(self, pending: int, *, newest: datetime | None = None) -> None:
        self.pending = pending
        # The time of the newest event of the group: a stream's lag once the ticket is done.
        self.newest = newest
        self.done = asyncio.Event()
        if pending <= 0:
            self.done.set()

    def settle(self, count: int = 1) -> None:
        self.pending -= count
        if self.pending <= 0:
            self.done.set()
