"""Indexer acknowledgement: which ack ids HEC has confirmed as indexed, polled for every waiter.

HEC answers an event request with ``{"ackId": N}`` on the request's channel; the events are only
indexed once ``POST /services/collector/ack`` says ``{"acks": {"N": true}}``. After answering true
HEC forgets the id, and it forgets a whole channel that idles or a restart; such acks never come,
which is why every wait has a deadline after which the batch is sent again.

One poller serves every ``send`` waiting at the same time, so N concurrent batches cost one ack
query per interval, not N.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

from forwarder.sinks.base import RetryableError, SinkConfigError

logger = logging.getLogger(__name__)

# Asks HEC about ack ids; returns each id's status, raises RetryableError or SinkConfigError.
AckQuery = Callable[[list[int]], Awaitable[dict[int, bool]]]


class AckTracker:
    def __init__(self, query: AckQuery, poll_interval: float) -> None:
        self._query = query
        self._poll_interval = poll_interval
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.queries = 0

    async def wait(self, ack_ids: Collection[int], within: float) -> set[int]:
        """Wait until every id is acknowledged or ``within`` seconds pass; the acknowledged ids.

        Raises SinkConfigError if HEC says acknowledgement cannot work (e.g. code 14).
        """
        if not ack_ids:
            return set()
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[None]] = {}
        for ack_id in ack_ids:
            future = self._waiting.get(ack_id)
            if future is None:
                future = loop.create_future()
                self._waiting[ack_id] = future
            futures[ack_id] = future
        self._ensure_poller()
        try:
            await asyncio.wait(futures.values(), timeout=within)
        finally:
            for ack_id, future in futures.items():
                if not future.done():
                    # Given up on: stop asking HEC about it.
                    self._waiting.pop(ack_id, None)
                    future.cancel()
        for future in futures.values():
            error = None if future.cancelled() else future.exception()
            if error is not None:
                raise error
        return {ack_id for ack_id, future in futures.items() if not future.cancelled()}

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="splunk-hec-ack-poller")

    async def _poll(self) -> None:
        while self._waiting:
            # Waiting between queries is the protocol (HEC indexes asynchronously), not a retry.
            await asyncio.sleep(self._poll_interval)
            ack_ids = sorted(self._waiting)
            if not ack_ids:
                return
            self.queries += 1
            try:
                statuses = await self._query(ack_ids)
            except SinkConfigError as error:
                for ack_id in ack_ids:
                    future = self._waiting.pop(ack_id, None)
                    if future is not None and not future.done():
                        future.set_exception(error)
                return
            except RetryableError as error:
                # A busy HEC or a dropped connection; the waiters' deadlines bound how long we try.
                logger.info("indexer acknowledgement query failed, will ask again: %s", error.reason)
                continue
            for ack_id, indexed in statuses.items():
                if indexed:
                    future = self._waiting.pop(ack_id, None)
                    if future is not None and not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
