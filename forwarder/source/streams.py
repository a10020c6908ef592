"""The poll loop of one stream (one account, one log type): windows, re-reads, de-duplication, checkpoints.

Each round reads the window ``[since, until)``: ``until`` is now minus the settle delay (late
logs), capped at ``max_window`` past the checkpoint (a backfill commits window by window);
``since`` is the checkpoint minus the overlap when the last window was read whole, so logs that
appeared late inside it are still found. Every ``reread_interval`` a trailing re-read goes back
over the late horizon for rows that appeared later still. Records seen before are dropped by event
id; the ids a restart would read again are kept with the checkpoint.

Reading runs ahead as far as the sinks' in-flight windows let it. A stream hands what it reads to
its :class:`~forwarder.source.stream_state.Outlet` (the pipeline's checkpointer): the records page
by page, then where each window ends; the checkpoint follows behind, window by window, moving only
once every sink has acknowledged (or dead-lettered) every event of the window.

When the API cannot serve every row of a second (it ignores ``page`` and one second holds more
rows than a page), the page size grows up to the API's maximum; past it, the stream logs an error,
counts the second as unreadable and moves on rather than read the same page forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from opentelemetry import trace

from forwarder.records import LogType
from forwarder.source.client import CloudflareClient
from forwarder.source.identity_providers import ScimIdentityProviders
from forwarder.source.instruments import SourceInstruments
from forwarder.source.paging import Prepare, Window, WindowReader, api_time
from forwarder.source.remembered import SeenIds
from forwarder.source.stream_state import (
    Outlet,
    SpanRead,
    StreamOptions,
    StreamProgress,
    stream_key,
    whole_seconds,
)

log = logging.getLogger(__name__)


class Stream:
    def __init__(
        self,
        client: CloudflareClient,
        account_id: str,
        log_type: LogType,
        options: StreamOptions,
        outlet: Outlet,
        *,
        idps: ScimIdentityProviders | None = None,
        prepare: Prepare | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        telemetry: SourceInstruments | None = None,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.log_type = log_type
        self.options = options
        self.idps = idps
        self.prepare = prepare
        self.clock = clock
        self.telemetry = telemetry if telemetry is not None else SourceInstruments()
        self.progress = StreamProgress()
        self.restart(outlet)
        self.telemetry.observe_stream(self)

    @property
    def key(self) -> str:
        return stream_key(self.account_id, self.log_type)

    def restart(self, outlet: Outlet) -> None:
        """Forget what was read; hand what is read from now on to ``outlet``. The position is read
        again from it (a new term of leadership: the previous leader may have moved it)."""
        self.outlet = outlet
        self.progress = StreamProgress(events=self.progress.events)
        self.seen = SeenIds(self.options.max_remembered)
        # After a restart the last window may have been read whole: re-read the overlap.
        self._last_window_complete = True
        # When the last window's read started (None: unknown, after a restart): rows older than the
        # settled span then were all visible to it, and its overlap need not be read again.
        self._last_read_at: datetime | None = None
        # No re-read goes before where this stream first started.
        self._floor: datetime | None = None
        # Grows when the API cannot page past a second that holds more rows than a page.
        self._page_size = self.options.page_size
        self._next_reread: datetime | None = None

    async def _restore(self) -> datetime:
        """The committed position, with the ids and the floor kept beside it."""
        resumed = await self.outlet.resume(whole_seconds(self.options.start))
        self._floor = resumed.floor
        if not resumed.committed:
            # Nothing before the start was read: the first trailing re-read can wait its turn.
            self._next_reread = self.clock() + timedelta(seconds=self.options.reread_interval)
            return resumed.position
        self.seen.restore(resumed.ids, resumed.position)
        # Rows may have appeared late while this stream was not running: re-read the horizon now.
        self._next_reread = self.clock()
        return resumed.position

    async def probe(self) -> int:
        """Read one record of the last minutes: fails fast on a wrong token or a missing permission.

        Returns the number of SCIM identity providers read (0 for the log types read without them).
        """
        with self.telemetry.tracer.start_as_current_span(
            "probe", attributes={"stream": self.key, "log_type": self.log_type.value}
        ):
            return await self._probe()

    async def _probe(self) -> int:
        idp_ids = await self._idp_ids()
        if self.log_type.description.needs_identity_providers and not idp_ids:
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
        if not self.log_type.description.needs_identity_providers or self.idps is None:
            return ()
        return await self.idps.ids()

    async def read(self, *, until_caught_up: bool = False) -> None:
        """Poll forever, or (``until_caught_up``) until the stream has reached now - settle.

        Reading runs ahead of acknowledgement as far as the sinks' in-flight windows allow; the
        outlet moves the checkpoint behind it.
        """
        position = await self._restore()
        self.progress.position = position
        self.progress.committed = position
        self.progress.started_position = position
        while True:
            now = self.clock()
            if self._reread_due(now):
                await self.reread_recent(position)
            end = whole_seconds(now - timedelta(seconds=self.options.settle_delay))
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

    def _reread_due(self, now: datetime) -> bool:
        if self.options.late_horizon <= 0 or self._next_reread is None or now < self._next_reread:
            return False
        self._next_reread = now + timedelta(seconds=self.options.reread_interval)
        return True

    async def poll_once(self, position: datetime, end: datetime) -> datetime:
        """Read one window starting at ``position`` and hand it to the outlet; the new read position."""
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

    def _overlap_start(self, position: datetime) -> datetime:
        """Where a window starting at ``position`` begins: the overlap before it, but only where a
        row could still have appeared after the last window was read.

        A row that was older than the settled span (:attr:`StreamOptions.settled_after`) when that
        read started was visible to it and was read then; only rows newer than that can be new. A
        backfill window, whose end is hours old, needs no overlap; a live one re-reads all of it.
        """
        if not self._last_window_complete:
            return position
        since = position - timedelta(seconds=self.options.overlap)
        if self._last_read_at is not None:
            settled = whole_seconds(self._last_read_at - self.options.settled_after)
            since = max(since, min(position, settled))
        return since

    async def _read_window(self, position: datetime, end: datetime) -> datetime:
        until = min(end, position + timedelta(seconds=self.options.max_window))
        since = self._overlap_start(position)
        if self._floor is not None:
            since = max(since, self._floor)
        window = Window(since=since, until=until)
        self._last_read_at = self.clock()
        trace.get_current_span().set_attributes(
            {"window.since": window.since.isoformat(), "window.until": window.until.isoformat()}
        )
        idp_ids = await self._idp_ids()
        if self.log_type.description.needs_identity_providers and not idp_ids:
            log.warning(
                "no SCIM-enabled identity provider in this account; nothing to read",
                extra={"stream": self.key},
            )
            return await self._window_read(position, until, [])
        read = await self._read_span(window, idp_ids)
        reader = read.reader
        self._last_window_complete = reader.complete
        if reader.complete:
            new_position = until
        else:
            last = whole_seconds(reader.last_time) if reader.last_time is not None else position
            new_position = max(position, min(last, until))
            if new_position <= position:
                new_position = self._no_progress(position, until, reader.stop_reason)
        return await self._window_read(position, new_position, read.recent)

    def _no_progress(
        self, position: datetime, until: datetime, reason: str, *, again: bool = False
    ) -> datetime:
        """A window that ended early at its own start: grow the page, or give up on one second.

        ``again``: a trailing re-read meets a second the window before it already gave up on; it
        moves on without counting the loss twice.
        """
        if self._page_size < self.options.max_page_size:
            self._page_size = min(self.options.max_page_size, self._page_size * 4)
            log.warning(
                "the API cannot page past the rows of one second; asking for bigger pages",
                extra={
                    "stream": self.key,
                    "second": api_time(position),
                    "page_size": self._page_size,
                    "reason": reason,
                },
            )
            return position
        skipped_to = min(until, position + timedelta(seconds=1))
        if again:
            return skipped_to
        self.progress.unreadable_seconds += 1
        self.telemetry.second_skipped(self.key, self.log_type.value)
        log.error(
            "rows lost: the API cannot serve every row of this second (it ignores `page` and the second "
            "holds more rows than the largest page); moving on past it",
            extra={
                "stream": self.key,
                "second": api_time(position),
                "page_size": self.client.page_sizes.asked(self.log_type.value, self._page_size),
                "reason": reason,
            },
        )
        return skipped_to

    async def _read_span(self, window: Window, idp_ids: Sequence[str], *, late: bool = False) -> SpanRead:
        """Read ``window``, submit what was not seen before, and remember what may be read again."""
        # Pages in flight at once only where no row can appear any more (see WindowReader._ahead).
        settled = window.until <= self.clock() - self.options.settled_after
        reader = WindowReader(
            self.client,
            self.account_id,
            self.log_type,
            window,
            page_size=self._page_size,
            max_pages=self.options.max_pages,
            idp_ids=idp_ids,
            prepare=self.prepare,
            depth=self.options.page_depth if settled else 1,
        )
        # Only records a later read can meet again are remembered: those within the re-read span
        # of the newest time read (the window ends at or after its second). Memory follows the span,
        # not the window (a backfill window can hold hundreds of thousands).
        span = self.options.reread_span + timedelta(seconds=1)
        recent: deque[tuple[str, datetime]] = deque()
        newest: datetime | None = None
        found = 0
        # Closed at once when reading stops (a lost lease, SIGTERM): no prefetched page request
        # may outlive it.
        async with contextlib.aclosing(reader.pages()) as pages:
            async for records in pages:
                fresh = self.seen.unseen(records)
                self.progress.duplicates += len(records) - len(fresh)
                self.telemetry.events_fetched(
                    self.key, self.log_type.value, len(fresh), len(records) - len(fresh)
                )
                if fresh:
                    await self.outlet.submit(fresh)
                # Record.time, written out (a datetime is never false): one comprehension per page.
                recent.extend([(record.event_id, record.timestamp or record.observed) for record in fresh])
                times = [moment for record in fresh if (moment := record.timestamp) is not None]
                if times:
                    page_newest = max(times)
                    if newest is None or page_newest > newest:
                        newest = page_newest
                while newest is not None and recent and recent[0][1] < newest - span:
                    recent.popleft()
                found += len(fresh)
                self.progress.events += len(fresh)
        # Pages of one window repeat each other only where they touch (the reader drops those).
        self.seen.add_all(recent)
        return SpanRead(reader, list(recent), found)

    async def reread_recent(self, position: datetime) -> int:
        """Read the late horizon before ``position`` again; deliver what appeared since. The count.

        It reaches back the horizon *plus* one re-read interval (:attr:`StreamOptions.late_reach`): a
        row that appears just after a re-read waits a whole interval for the next one, by when a span
        of the horizon alone has moved past it (a row 660-900 s late could be missed at the defaults).
        """
        since = whole_seconds(position - self.options.late_reach)
        if self._floor is not None:
            since = max(since, self._floor)
        if since >= position:
            return 0
        idp_ids = await self._idp_ids()
        if self.log_type.description.needs_identity_providers and not idp_ids:
            return 0
        found = 0
        with self.telemetry.tracer.start_as_current_span(
            "re-read late horizon", attributes={"stream": self.key, "log_type": self.log_type.value}
        ) as span:
            start = since
            while start < position:
                read = await self._read_span(Window(start, position), idp_ids)
                found += read.fresh
                # The checkpoint stays; its commit waits for these records, and keeps their ids.
                await self.outlet.window_read(position, read.recent)
                reader = read.reader
                if reader.complete:
                    break
                last = whole_seconds(reader.last_time) if reader.last_time is not None else start
                if last > start:
                    start = last
                else:
                    start = self._no_progress(start, position, reader.stop_reason, again=True)
            span.set_attributes({"since": since.isoformat(), "until": position.isoformat(), "late": found})
        self.progress.late += found
        self.telemetry.late_reread(self.key, self.log_type.value, found)
        if found:
            log.info(
                "late rows found by the trailing re-read",
                extra={
                    "stream": self.key,
                    "late": found,
                    "since": api_time(since),
                    "until": api_time(position),
                },
            )
        self.seen.forget_before(position - self.options.reread_span)
        return found

    async def _window_read(
        self, old: datetime, new: datetime, recent: Sequence[tuple[str, datetime]]
    ) -> datetime:
        self.progress.windows += 1
        position = max(old, new)
        await self.outlet.window_read(position, recent)
        self.progress.position = position
        self.seen.forget_before(position - self.options.reread_span)
        return position
