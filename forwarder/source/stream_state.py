"""What a stream is told and what it knows: its options, its progress, and the outlet it hands
what it reads to (the pipeline's checkpointer, seen from the source: the source imports nothing
of the pipeline)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from forwarder.records import LogType, Record
from forwarder.source.paging import WindowReader


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def stream_key(account_id: str, log_type: LogType) -> str:
    """How a stream is named: in logs, metrics, /status and the checkpoint store."""
    return f"{account_id}/{log_type.value}"


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
    # Most page requests of one window in flight at once, where no row can appear any more.
    page_depth: int = 1

    @property
    def settled_after(self) -> timedelta:
        """How late a row may appear that a read is still meant to find: the late horizon, or the
        settle delay plus the overlap when that is longer (it is all a stream without a late horizon
        re-reads). Rows older than this when a read starts are all visible to it."""
        return timedelta(seconds=max(self.late_horizon, self.settle_delay + self.overlap))

    @property
    def late_reach(self) -> timedelta:
        """How far before its position a trailing re-read reads: the late horizon plus one re-read
        interval, so that a row up to the horizon late is found even when it appears just after a
        re-read (none without a late horizon)."""
        if self.late_horizon <= 0:
            return timedelta(0)
        return timedelta(seconds=self.late_horizon + self.reread_interval)

    @property
    def reread_span(self) -> timedelta:
        """How far before a position a later read may go again: the overlap or the re-read's reach."""
        return max(timedelta(seconds=self.overlap), self.late_reach)


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


class Resumption(Protocol):
    """Where a stream starts reading."""

    @property
    def position(self) -> datetime:
        """The committed position, or (nothing committed yet) the configured start."""

    @property
    def committed(self) -> bool:
        """Whether ``position`` was committed: only then may rows have appeared late behind it."""

    @property
    def ids(self) -> Sequence[str]:
        """Prefixes of the ids delivered just before ``position``: not to be delivered again."""

    @property
    def floor(self) -> datetime | None:
        """No re-read goes before it (where the stream first started), or None."""


class Outlet(Protocol):
    """Where a stream hands what it reads, in order: records page by page, then the end of each
    window. The checkpoint follows once every sink has acknowledged a window."""

    async def resume(self, start: datetime) -> Resumption:
        """Where to start: the committed position, or ``start`` when there is none."""

    async def submit(self, records: Sequence[Record]) -> None:
        """Deliver ``records``; waits while the sinks' in-flight windows are full (backpressure)."""

    async def window_read(self, position: datetime, recent: Sequence[tuple[str, datetime]]) -> None:
        """Everything submitted since the last window is read up to ``position``; ``recent`` holds
        the (id, time) of the records a restart may read again, to keep with the checkpoint."""


@dataclass
class SpanRead:
    """What reading one window brought."""

    reader: WindowReader
    recent: list[tuple[str, datetime]]
    fresh: int
