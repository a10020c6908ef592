"""What a stream is told and what it knows: its options, its progress, the windows awaiting commit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from forwarder.pipeline.acknowledgement import Ticket
from forwarder.source.paging import WindowReader


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


@dataclass
class StreamOptions:
    poll_interval: float
    overlap: float
    settle_delay: float
    max_window: float
    page_size: int
    max_pages: int
    start: datetime
    # Ids remembered for de-duplication; ids older than the window start are forgotten sooner.
    max_remembered: int = 500_000
    # How far back the trailing re-read goes, and how often (0: no trailing re-read).
    late_horizon: float = 0.0
    reread_interval: float = 300.0
    # Ids kept with each checkpoint, so that a restart delivers nothing twice.
    checkpoint_ids: int = 2000
    # The largest `per_page` the page size may grow to when the API cannot page past a second.
    max_page_size: int = 1000

    @property
    def reread_span(self) -> timedelta:
        """How far before a position a later read may go again: the overlap or the late horizon."""
        return timedelta(seconds=max(self.overlap, self.late_horizon))


@dataclass
class StreamProgress:
    """What the progress reporter and the status endpoint read."""

    events: int = 0
    duplicates: int = 0
    windows: int = 0
    # Records found only by a trailing re-read, and seconds skipped because the API could not serve them.
    late: int = 0
    unreadable_seconds: int = 0
    # Read up to here; committed up to there (every sink acknowledged).
    position: datetime | None = None
    committed: datetime | None = None
    # The time of the newest event every sink has acknowledged: the stream's lag is now minus it.
    newest_delivered: datetime | None = None
    caught_up: bool = False
    started: float = field(default_factory=time.monotonic)
    started_position: datetime | None = None


@dataclass
class Uncommitted:
    """A window read (or re-read), waiting for every sink to acknowledge it."""

    tickets: list[Ticket]
    position: datetime
    # (event id, time) of the records a restart may read again.
    recent: list[tuple[str, datetime]]


@dataclass
class SpanRead:
    """What reading one window brought."""

    reader: WindowReader
    tickets: list[Ticket]
    recent: list[tuple[str, datetime]]
    fresh: int
