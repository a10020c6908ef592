"""A client-side limiter so that one credential stays under Cloudflare's request budget.

Cloudflare allows 1200 requests per 5 minutes per user, across every stream of every account
that user reads, and going over blocks every call for 5 minutes. Spending the budget evenly is
far cheaper than tripping the block, so all streams of a credential share one limiter: a sliding
window (at most N request starts in any period), which also keeps every fixed window the server
may count in under N. A 429 that slips through (the dashboard shares the budget) blocks the
whole credential for as long as the server said.
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
        self._starts: deque[float] = deque()
        self._blocked_until = 0.0
        # One waiter at a time keeps the order fair between streams.
        self._lock = asyncio.Lock()

    @property
    def remaining(self) -> int:
        """Requests that may start now without waiting."""
        self._forget(self._clock())
        return max(0, self.requests - len(self._starts))

    def block(self, seconds: float) -> None:
        """Hold every request of this credential for ``seconds`` (the server said so)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def delay(self) -> float:
        """Seconds until the next request may start (0 when it may start now)."""
        now = self._clock()
        self._forget(now)
        wait = max(0.0, self._blocked_until - now)
        if len(self._starts) >= self.requests:
            wait = max(wait, self._starts[0] + self.period - now)
        return wait

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.delay()) > 0:
                await self._sleep(wait)
            self._starts.append(self._clock())

    def _forget(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - self.period:
            self._starts.popleft()
