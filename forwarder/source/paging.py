"""Reading one time window of one stream, page by page, without losing a row or looping forever.

The SDKs page until an empty page and never read ``total_pages``; an endpoint that ignores
``page`` then returns page 1 forever. We stop on whichever comes first:

- ``total_pages`` (SCIM): read on while ``page < total_pages``, whatever a page's length;
- an empty page;
- a short page, but only once the server's page size is known. A server may cap pages below
  ``per_page`` without saying so (access requests carry no ``result_info``): a non-empty page
  shorter than asked is then followed by one more request, and if that brings rows, the server caps
  pages at the short page's length. The cap is remembered per endpoint and credential (on the
  client) and asked for from then on, and the window is read again from page 1 at the cap (the
  server may have paged by the size asked, leaving rows in neither page); a full page proves the
  server honours the size asked, and a page shorter than the longest the endpoint ever returned is
  the last too (a cap is at least that long), so the extra request is only for a new longest page;
- a page that brings nothing new (the server ignored ``page``), or the page cap.

Cursor-paged log types (audit logs) follow ``result_info.cursor`` instead. An answer without a cursor
is the last; a short or even empty page that carries one is not (the cursor is the server saying
more may follow, and a short page proves nothing about its page size). A cursor handed back a second
time (the server ignores ``cursor``) ends the window incomplete, as does the page cap.

Several page requests may be in flight at once (``depth``, page numbers only, where no row can
appear any more): the pages are still judged one by one, in order, by the rules above, and what was
asked for past the end of the window is dropped (wasted budget: fewer than ``depth`` requests per
window, none when ``total_pages`` is given, none for a window of one page).

The last cases leave the window *incomplete*: the caller then advances only to the time of the last
record read, so nothing after it is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from forwarder.records import LogType, Paging, Record, make_record, make_records
from forwarder.source.client import CloudflareClient, Envelope, QueryParams
from forwarder.source.errors import CloudflareError
from forwarder.source.scim_bodies import prepare_scim_record

# A SCIM record in, the same record with its body parsed, redacted and bounded out.
Prepare = Callable[[Mapping[str, Any]], Mapping[str, Any]]

log = logging.getLogger(__name__)


def api_time(moment: datetime) -> str:
    """Whole-second RFC 3339 in UTC: what the API documents for ``since``/``until``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_from_api(
    log_type: LogType,
    account_id: str,
    data: Mapping[str, Any],
    observed: datetime | None = None,
    prepare: Prepare | None = None,
) -> Record:
    """A record from what the API returned: the one place SCIM bodies are prepared (parsed,
    redacted, bounded), before the event id is computed. With no ``prepare``, the defaults: no
    record leaves the source unredacted, and the formats never prepare anything themselves."""
    if log_type is LogType.SCIM_UPDATES:
        data = (prepare or prepare_scim_record)(data)
    return make_record(log_type, account_id, data, observed)


def records_from_api(
    log_type: LogType,
    account_id: str,
    result: Iterable[Any],
    observed: datetime,
    prepare: Prepare | None = None,
) -> list[Record]:
    """:func:`record_from_api` of each object of a page's ``result`` (anything else is skipped), in one
    loop per page rather than a call per record."""
    items: list[Mapping[str, Any]] = [item for item in result if isinstance(item, dict)]
    if log_type is LogType.SCIM_UPDATES:
        prepare_record = prepare or prepare_scim_record
        items = [prepare_record(item) for item in items]
    return make_records(log_type, account_id, items, observed)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


@dataclass
class WindowReader:
    """Pages of one window of one stream. Iterate :meth:`pages`, then read ``complete``."""

    client: CloudflareClient
    account_id: str
    log_type: LogType
    window: Window
    page_size: int
    max_pages: int
    idp_ids: Sequence[str] = ()
    # A probe reads one record on purpose: an incomplete window is not news then.
    warn_incomplete: bool = True
    # Parses, redacts and bounds a SCIM record's body, with the stream's settings; the defaults when
    # none is given, so that no record leaves the source unredacted.
    prepare: Prepare | None = None
    # Most page requests in flight at once (page numbers only; see `_ahead`).
    depth: int = 1
    complete: bool = False
    stop_reason: str = ""
    pages_read: int = 0
    last_time: datetime | None = None
    # Ids of the previous page only: a page that shifted (a late record appeared before it)
    # repeats the end of the one before, and a server that ignores `page` repeats all of it.
    # Remembering the whole window would cost memory in proportion to the window.
    _previous: set[str] = field(default_factory=set)
    # The length of a short page whose successor may reveal a server-side page cap, and its ids.
    _short_page: int | None = None
    _short_page_ids: set[str] = field(default_factory=set)
    # Ids read before a cap was found, skipped when the window is read again at the cap.
    _read_before_cap: set[str] = field(default_factory=set)
    # Cursor paging: the cursors followed in this window (one handed back again means a loop), and
    # the one to follow next.
    _cursors: set[str] = field(default_factory=set)
    _cursor: str | None = None
    # The page size of this reading of the window, fixed when it starts: pages in flight must all be
    # of one size, even when another stream of the credential learns a cap meanwhile.
    _size: int = 0

    @property
    def asked(self) -> int:
        """The page size to ask for: ours, or the server's cap when it is smaller."""
        return self._size or self.client.page_sizes.asked(self.log_type.value, self.page_size)

    def _params(self, page: int, cursor: str | None) -> QueryParams:
        description = self.log_type.description
        size = self.asked
        since = self.window.since
        if description.since_exclusive:
            # "Newer than": ask from a second earlier, so that a row at `since` itself is not left
            # out; the rows before `since` this brings are dropped (see `_in_window`).
            since -= timedelta(seconds=1)
        params: list[tuple[str, str | int]] = [
            ("direction", "asc"),
            ("since", api_time(since)),
            (description.until_parameter, api_time(self.window.until)),
        ]
        if description.paging is Paging.PAGE_NUMBERS:
            params.append(("page", page))
        elif cursor is not None:
            params.append(("cursor", cursor))
        params.extend((name, size) for name in description.size_parameters)
        if description.needs_identity_providers:
            params.extend(("idp_id", idp) for idp in self.idp_ids)
        return params

    @property
    def path(self) -> str:
        return self.log_type.description.path.format(account_id=self.account_id)

    async def pages(self) -> AsyncGenerator[list[Record], None]:
        """Each page's records not seen before in this window, as Records.

        The next page is asked for as soon as this one says there is one, while the consumer maps
        and queues this one: a backfill is bound by round trips, not by the rate limit, otherwise.
        With ``depth`` above 1 (page numbers only, see :meth:`_ahead`), up to that many pages are
        asked for at once. Pages are judged one by one in order, exactly as without it; a request
        past the end of the window is only wasted budget.
        """
        self._size = self.client.page_sizes.asked(self.log_type.value, self.page_size)
        page = 1
        ahead: deque[asyncio.Future[Envelope]] = deque([asyncio.ensure_future(self._fetch(page))])
        try:
            while ahead:
                envelope = await ahead.popleft()
                records = self._records(envelope)
                self.pages_read += 1
                fresh = self._fresh(records)
                if records and not fresh:
                    self._stop(False, f"page {page} repeated earlier records: the API ignored `{self._turn}`")
                    return
                if self._read_before_cap:
                    fresh = [record for record in fresh if record.event_id not in self._read_before_cap]
                self._note_times(fresh)
                if self._short_page is not None and fresh:
                    # The page after a short one brought rows: the server caps pages at that length.
                    self.client.page_sizes.capped(self.log_type.value, self._short_page, self.page_size)
                    # Whether it paged by its cap or by the size asked is unknown: in the second case
                    # the rows between the two are in neither page. Read the window again from page 1
                    # at the cap; the two pages already read are skipped. Once per credential.
                    self._read_before_cap = self._short_page_ids | {record.event_id for record in fresh}
                    self._short_page = None
                    self._previous = set()
                    await _cancel(ahead)
                    yield fresh
                    self._size = self.client.page_sizes.asked(self.log_type.value, self.page_size)
                    page = 1
                    ahead.append(asyncio.ensure_future(self._fetch(page)))
                    continue
                self._short_page = None
                ending = self._last_page(page, envelope, len(records))
                if self._short_page is not None:
                    self._short_page_ids = {record.event_id for record in records}
                if ending is None:
                    last = page + self._ahead(page, envelope, records)
                    for number in range(page + 1 + len(ahead), last + 1):
                        ahead.append(asyncio.ensure_future(self._fetch(number, self._cursor)))
                if fresh:
                    yield fresh
                if ending is not None:
                    self._stop(*ending)
                    return
                page += 1
        finally:
            await _cancel(ahead)

    def _ahead(self, page: int, envelope: Envelope, records: list[Record]) -> int:
        """How many pages after the one just judged to have asked for (at least the next one).

        More than one only with page numbers, a ``depth`` above 1 (the stream gives it only for a
        window no row can appear in any more: pages served out of order around a newly appeared row
        could otherwise miss one), and a page that proves more pages follow: a full page (the size
        is honoured) or ``total_pages``. Never past ``total_pages`` or the page cap. Without
        ``total_pages``, no more than the rest of the window would fill at this page's density of
        rows (pages past the end are wasted budget), and no more than the pages read so far.
        """
        if self.depth <= 1 or self.log_type.description.paging is not Paging.PAGE_NUMBERS:
            return 1
        total_pages = envelope.result_info.get("total_pages")
        limit = min(self.depth, self.max_pages - self.pages_read)
        if isinstance(total_pages, int | float) and not isinstance(total_pages, bool):
            return max(1, min(limit, int(total_pages) - page))
        if len(records) < self._size:
            return 1
        return max(1, min(limit, self.pages_read, self._pages_left(records)))

    def _pages_left(self, records: list[Record]) -> int:
        """Pages the rest of the window would fill if its rows came as densely as in ``records``."""
        times = [record.timestamp for record in records if record.timestamp is not None]
        if not times:
            return 1
        first, last = min(times), max(times)
        covered = (last - first).total_seconds()
        left = (self.window.until - last).total_seconds()
        if covered <= 0:
            # A page of one second: as dense as can be; the depth bounds it.
            return self.depth
        return max(1, math.ceil(left / covered))

    async def _fetch(self, page: int, cursor: str | None = None) -> Envelope:
        return await self.client.get(
            self.path, self._params(page, cursor), operation=self.log_type.value, account_id=self.account_id
        )

    @property
    def _turn(self) -> str:
        """The parameter that turns the page."""
        return "cursor" if self.log_type.description.paging is Paging.CURSOR else "page"

    def _records(self, envelope: Envelope) -> list[Record]:
        """The records of a page within the window."""
        # One observation time per page: the records of a page arrived together.
        observed = datetime.now(UTC)
        result = envelope.result or []
        return self._in_window(
            records_from_api(self.log_type, self.account_id, result, observed, self.prepare)
        )

    def _in_window(self, records: list[Record]) -> list[Record]:
        """Drop the rows before the window that asking from a second early brought; a row without a
        time stays (the API put it in the window)."""
        if not self.log_type.description.since_exclusive:
            return records
        since = self.window.since
        return [record for record in records if record.timestamp is None or record.timestamp >= since]

    def _last_page(self, page: int, envelope: Envelope, count: int) -> tuple[bool, str] | None:
        """(complete, why) when ``page`` ends the window; None when another page follows."""
        if self.log_type.description.paging is Paging.CURSOR:
            ending = self._cursor_end(page, envelope)
        else:
            ending = self._numbered_end(page, envelope, count)
        if ending is None and self.pages_read >= self.max_pages:
            return False, f"page cap FORWARDER_MAX_PAGES={self.max_pages} reached"
        return ending

    def _cursor_end(self, page: int, envelope: Envelope) -> tuple[bool, str] | None:
        cursor = envelope.result_info.get("cursor")
        if not isinstance(cursor, str) or not cursor:
            return True, f"last page ({page}, no cursor)"
        if cursor in self._cursors:
            return False, f"page {page} handed back a cursor already followed: the API ignored `cursor`"
        self._cursors.add(cursor)
        self._cursor = cursor
        return None

    def _numbered_end(self, page: int, envelope: Envelope, count: int) -> tuple[bool, str] | None:
        total_pages = envelope.result_info.get("total_pages")
        if isinstance(total_pages, int | float) and not isinstance(total_pages, bool):
            # The server counted the pages at its own page size: believe it either way.
            if page >= total_pages:
                return True, f"last page ({page} of {int(total_pages)})"
        elif count == 0:
            return True, "empty page"
        else:
            asked = self.asked
            sizes = self.client.page_sizes
            operation = self.log_type.value
            last = sizes.last(operation, asked, count)
            sizes.returned(operation, count)
            if count >= asked:
                sizes.honoured(operation, asked)
            elif last:
                return True, f"short page ({count} < {asked})"
            else:
                # Short, but the server may cap pages at `count`: the next page tells.
                self._short_page = count
        return None

    def _fresh(self, records: list[Record]) -> list[Record]:
        fresh = [record for record in records if record.event_id not in self._previous]
        self._previous = {record.event_id for record in records}
        return fresh

    def _note_times(self, records: list[Record]) -> None:
        newest = max([moment for record in records if (moment := record.timestamp) is not None], default=None)
        if newest is not None and (self.last_time is None or newest > self.last_time):
            self.last_time = newest

    def _stop(self, complete: bool, reason: str) -> None:
        self.complete = complete
        self.stop_reason = reason
        if not complete and self.warn_incomplete:
            log.warning(
                "window read only in part; the next window resumes at the last record read",
                extra={
                    "account_id": self.account_id,
                    "log_type": self.log_type.value,
                    "reason": reason,
                    "since": api_time(self.window.since),
                    "until": api_time(self.window.until),
                    "last_record_time": self.last_time.isoformat() if self.last_time else None,
                },
            )


async def _cancel(pending: deque[asyncio.Future[Envelope]]) -> None:
    """Cancel the page requests still in flight (their answers are not wanted) and let them end."""
    while pending:
        future = pending.popleft()
        future.cancel()
        with contextlib.suppress(asyncio.CancelledError, CloudflareError):
            await future
