"""A client-side limiter so that one credential stays under Cloudflare's request budget.

Cloudflare allows 1200 requests per 5 minutes per user, across every stream of every account
that user reads, and going over blocks every call for 5 minutes. Spending the budget evenly is
far cheaper than tripping the block, so all streams of a credential share one limiter: a sliding
window (at most N request starts in any period), which also keeps every fixed window the server
may count in under N. A 429 that slips through (the dashboard shares the budget) blocks the
whole credential for as long as the server said.

A request is counted from when it starts until ``period`` after it *ends*: the server counts it
when it arrives, somewhere in between, so a window measured from the start alone lets request
N+1 start a little before request 1's arrival leaves the server's window (measured: 429s at a
1200/300 s limit). Counting to the end costs one round trip per period, not a block.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self,
        requests: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.requests = requests
        self.period = period
        self._clock = clock
        self._sleep = sleep
        # One [time] per request in the window: its start while in flight, then its end.
        self._slots: deque[list[float]] = deque()
        self._blocked_until = 0.0
        # One waiter at a time keeps the order fair between streams.
        self._lock = asyncio.Lock()

    @property
    def remaining(self) -> int:
        """Requests that may start now without waiting."""
        self._forget(self._clock())
        return max(0, self.requests - len(self._slots))

    def block(self, seconds: float) -> None:
        """Hold every request of this credential for ``seconds`` (the server said so)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def delay(self) -> float:
        """Seconds until the next request may start (0 when it may start now)."""
        now = self._clock()
        self._forget(now)
        wait = max(0.0, self._blocked_until - now)
        if len(self._slots) >= self.requests:
            # An in-flight request's slot ends no sooner than now: wait for at least a poll.
            wait = max(wait, self._slots[0][0] + self.period - now, 0.001)
        return wait

    async def acquire(self) -> list[float]:
        """Wait for room; the slot to hand to :meth:`done` once the answer has arrived."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                await self._sleep(wait)
            slot = [self._clock()]
            self._slots.append(slot)
            return slot

    def done(self, slot: list[float]) -> None:
        """The request of ``slot`` has ended (answered or failed): its period runs from now."""
        slot[0] = self._clock()

    def _forget(self, now: float) -> None:
        # Slots end in about the order they start; one that ended late only stays counted longer.
        while self._slots and self._slots[0][0] <= now - self.period:
            self._slots.popleft()
