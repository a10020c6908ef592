"""The poll loop of one stream (one account, one log type): windows, de-duplication, checkpoints.

Each round reads the window ``[since, until)``: ``until`` is now minus the settle delay (late
logs), capped at ``max_window`` past the checkpoint (a backfill commits window by window);
``since`` is the checkpoint minus the overlap when the last window was read whole, so logs that
appeared late inside it are still found. Records seen before are dropped by event id.

Reading runs ahead as far as the sinks' in-flight windows let it; the checkpoint follows behind,
window by window, moving only once every sink has acknowledged (or dead-lettered) every event of
the window. It never moves backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace

from forwarder.checkpoints.base import CheckpointStore
from forwarder.cloudflare.client import CloudflareClient
from forwarder.cloudflare.identity_providers import ScimIdentityProviders
from forwarder.cloudflare.paging import Window, WindowReader
from forwarder.delivery import Ticket
from forwarder.records import LogType, Record, make_record
from forwarder.telemetry import Telemetry

log = logging.getLogger(__name__)

Submit = Callable[[Sequence[Record]], Awaitable[Ticket]]
Prepare = Callable[[Mapping[str, Any]], Mapping[str, Any]]


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


class SeenIds:
    """Event ids already delivered, forgotten once older than anything a window can re-read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: dict[str, datetime] = {}

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._times

    def __len__(self) -> int:
        return len(self._times)

    def add(self, event_id: str, moment: datetime) -> None:
        self._times[event_id] = moment
        if len(self._times) > self.limit:
            # Dicts keep insertion order: drop the oldest tenth at once, not one id per insert.
            for key in list(self._times)[: self.limit // 10]:
                del self._times[key]

    def forget_before(self, moment: datetime) -> None:
        self._times = {key: seen for key, seen in self._times.items() if seen >= moment}


@dataclass
class StreamProgress:
    """What the progress reporter and the status endpoint read."""

    events: int = 0
    duplicates: int = 0
    windows: int = 0
    # Read up to here; committed up to there (every sink acknowledged).
    position: datetime | None = None
    committed: datetime | None = None
    # The time of the newest event every sink has acknowledged: the stream's lag is now minus it.
    newest_delivered: datetime | None = None
    caught_up: bool = False
    started: float = field(default_factory=time.monotonic)
    started_position: datetime | None = None


class Stream:
    def __init__(
        self,
        client: CloudflareClient,
        account_id: str,
        log_type: LogType,
        options: StreamOptions,
        checkpoints: CheckpointStore,
        submit: Submit,
        *,
        idps: ScimIdentityProviders | None = None,
        prepare: Prepare | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        telemetry: Telemetry | None = None,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.log_type = log_type
        self.options = options
        self.checkpoints = checkpoints
        self.submit = submit
        self.idps = idps
        self.prepare = prepare
        self.clock = clock
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        self.seen = SeenIds(options.max_remembered)
        self.progress = StreamProgress()
        # After a restart the last window may have been read whole: re-read the overlap.
        self._last_window_complete = True
        # Windows read but not yet acknowledged by every sink, in order: (tickets, position).
        self._uncommitted: asyncio.Queue[tuple[list[Ticket], datetime]] = asyncio.Queue()

    @property
    def key(self) -> str:
        return f"{self.account_id}/{self.log_type.value}"

    async def position(self) -> datetime:
        committed = await self.checkpoints.load(self.key)
        return committed if committed is not None else whole_seconds(self.options.start)

    async def probe(self) -> int:
        """Read one record of the last minutes: fails fast on a wrong token or a missing permission.

        Returns the number of SCIM identity providers read (0 for access requests).
        """
        with self.telemetry.tracer.start_as_current_span(
            "probe", attributes={"stream": self.key, "log_type": self.log_type.value}
        ):
            return await self._probe()

    async def _probe(self) -> int:
        idp_ids = await self._idp_ids()
        if self.log_type is LogType.SCIM_UPDATES and not idp_ids:
            return 0
        now = whole_seconds(self.clock())
        window = Window(since=now - timedelta(minutes=5), until=now)
        reader = WindowReader(
            self.client, self.account_id, self.log_type, window, 1, 1, idp_ids, warn_incomplete=False
        )
        async for _ in reader.pages():
            pass
        return len(idp_ids)

    async def _idp_ids(self) -> Sequence[str]:
        if self.log_type is not LogType.SCIM_UPDATES or self.idps is None:
            return ()
        return await self.idps.ids()

    async def read(self, *, until_caught_up: bool = False) -> None:
        """Poll forever, or (``until_caught_up``) until the stream has reached now - settle.

        Reading runs ahead of acknowledgement as far as the sinks' in-flight windows allow;
        :meth:`commit_loop` moves the checkpoint behind it.
        """
        position = await self.position()
        self.progress.position = position
        self.progress.committed = position
        self.progress.started_position = position
        while True:
            end = whole_seconds(self.clock() - timedelta(seconds=self.options.settle_delay))
            if position >= end:
                self.progress.caught_up = True
                if until_caught_up:
                    return
                await asyncio.sleep(self.options.poll_interval)
                continue
            self.progress.caught_up = False
            position = await self.poll_once(position, end)
            if position >= end and not until_caught_up:
                await asyncio.sleep(self.options.poll_interval)

    async def commit_loop(self) -> None:
        """Commit each window read, in order, once every sink has acknowledged all of it."""
        while True:
            tickets, position = await self._uncommitted.get()
            for ticket in tickets:
                await ticket.done.wait()
                newest = self.progress.newest_delivered
                if ticket.newest is not None and (newest is None or ticket.newest > newest):
                    self.progress.newest_delivered = ticket.newest
            committed = self.progress.committed
            if committed is None or position > committed:
                await self.checkpoints.commit(self.key, position)
                self.progress.committed = position
            self._uncommitted.task_done()

    async def flush(self) -> None:
        """Wait until every window read so far is committed."""
        await self._uncommitted.join()

    async def poll_once(self, position: datetime, end: datetime) -> datetime:
        """Read one window starting at ``position`` and queue its commit; the new read position."""
        progress = self.progress
        events, duplicates = progress.events, progress.duplicates
        with self.telemetry.tracer.start_as_current_span(
            "poll window", attributes={"stream": self.key, "log_type": self.log_type.value}
        ) as span:
            new_position = await self._read_window(position, end)
            span.set_attributes(
                {
                    "events": progress.events - events,
                    "duplicates": progress.duplicates - duplicates,
                    "complete": self._last_window_complete,
                    "position": new_position.isoformat(),
                }
            )
            self.telemetry.window_read(self.key, self.log_type.value, complete=self._last_window_complete)
            return new_position

    async def _read_window(self, position: datetime, end: datetime) -> datetime:
        overlap = timedelta(seconds=self.options.overlap if self._last_window_complete else 0)
        until = min(end, position + timedelta(seconds=self.options.max_window))
        window = Window(since=position - overlap, until=until)
        trace.get_current_span().set_attributes(
            {"window.since": window.since.isoformat(), "window.until": window.until.isoformat()}
        )
        idp_ids = await self._idp_ids()
        if self.log_type is LogType.SCIM_UPDATES and not idp_ids:
            log.warning(
                "no SCIM-enabled identity provider in this account; nothing to read",
                extra={"stream": self.key},
            )
            return await self._window_read(position, until, [])
        reader = WindowReader(
            self.client,
            self.account_id,
            self.log_type,
            window,
            page_size=self.options.page_size,
            max_pages=self.options.max_pages,
            idp_ids=idp_ids,
            to_record=self._record,
        )
        tickets: list[Ticket] = []
        # Only records the next window can read again are remembered: memory follows the
        # overlap, not the window (a backfill window can hold hundreds of thousands).
        reread_from = until - timedelta(seconds=self.options.overlap)
        last_page: list[Record] = []
        # Closed at once when reading stops (a lost lease, SIGTERM): no prefetched page request
        # may outlive it.
        async with contextlib.aclosing(reader.pages()) as pages:
            async for records in pages:
                fresh = [record for record in records if record.event_id not in self.seen]
                self.progress.duplicates += len(records) - len(fresh)
                self.telemetry.events_fetched(
                    self.key, self.log_type.value, len(fresh), len(records) - len(fresh)
                )
                if fresh:
                    tickets.append(await self.submit(fresh))
                for record in fresh:
                    if record.time >= reread_from:
                        self.seen.add(record.event_id, record.time)
                last_page = fresh
                self.progress.events += len(fresh)
        if not reader.complete:
            # The next window starts at the last record read, without overlap: its page repeats.
            for record in last_page:
                self.seen.add(record.event_id, record.time)
        self._last_window_complete = reader.complete
        if reader.complete:
            new_position = until
        else:
            last = whole_seconds(reader.last_time) if reader.last_time is not None else position
            new_position = max(position, min(last, until))
        return await self._window_read(position, new_position, tickets)

    async def _window_read(self, old: datetime, new: datetime, tickets: list[Ticket]) -> datetime:
        self.progress.windows += 1
        position = max(old, new)
        await self._uncommitted.put((tickets, position))
        self.progress.position = position
        self.seen.forget_before(position - timedelta(seconds=self.options.overlap))
        return position

    def _record(self, data: Mapping[str, Any], observed: datetime) -> Record:
        if self.prepare is not None and self.log_type is LogType.SCIM_UPDATES:
            data = self.prepare(data)
        return make_record(self.log_type, self.account_id, data, observed)
