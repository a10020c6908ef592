"""A client-side limiter so that one credential stays under Cloudflare's request budget.

Cloudflare allows 1200 requests per 5 minutes per user, across every stream of every account
that user reads *and the dashboard*, and going over blocks every call for 5 minutes. Spending the
budget evenly is far cheaper than tripping the block, so all streams of a credential share one
limiter, which applies three rules; a request starts only when all three allow it:

- **The budget**: a sliding window, at most ``requests`` starts in any ``period``, which also keeps
  every fixed window the server may count in under ``requests``. A request is counted from when it
  starts until ``period`` after it *ends*: the server counts it when it arrives, somewhere in
  between, so a window measured from the start alone lets request N+1 start a little before request
  1's arrival leaves the server's window (measured: 429s at a 1200/300 s limit). Counting to the end
  costs one round trip per period, not a block.
- **Pacing** (``burst``): a token bucket refilled at ``requests / period`` per second holding at
  most ``burst`` tokens, so that the budget is spread over the period instead of going out in its
  first seconds (which leaves nothing for a person using the dashboard until the period ends), and
  no second carries more than ``burst`` plus one second's refill: far under Cloudflare's 200
  requests per second per IP.
- **The server's word** (:meth:`observe`): an answer's ``Ratelimit``/``X-RateLimit-Remaining`` says how
  many requests the *server* still allows until its reset, counting every client of the user. No
  more than that, less ``reserve`` (left for the people on the dashboard), start before the reset.

A 429 that slips through blocks the whole credential for as long as the server said (:meth:`block`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Slot:
    """One request: ``time`` is its start while in flight, then its end; ``number`` counts starts."""

    time: float
    number: int


@dataclass
class _ServerWord:
    """What the newest answer said: ``allowance`` more starts after start number ``mark``, until ``until``."""

    basis: int
    mark: int
    allowance: int
    until: float


class RateLimiter:
    def __init__(
        self,
        requests: int,
        period: float,
        *,
        burst: int | None = None,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.requests = requests
        self.period = period
        # None: no pacing (the whole budget may go at once; tests and tools build it so).
        self.burst = burst
        self.reserve = reserve
        self._clock = clock
        self._sleep = sleep
        # One slot per request in the window: its start while in flight, then its end.
        self._slots: deque[Slot] = deque()
        self._blocked_until = 0.0
        self._started = 0
        self._tokens = float(burst) if burst is not None else 0.0
        self._refilled = clock()
        self._server: _ServerWord | None = None
        # One waiter at a time keeps the order fair between streams.
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float:
        """Requests per second the pacing allows in the long run."""
        return self.requests / self.period

    @property
    def remaining(self) -> int:
        """Requests the budget lets start now (pacing and the server's word aside)."""
        self._forget(self._clock())
        return max(0, self.requests - len(self._slots))

    def block(self, seconds: float) -> None:
        """Hold every request of this credential for ``seconds`` (the server said so)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def observe(self, slot: Slot, remaining: int, reset: float) -> None:
        """The answer to ``slot``'s request said ``remaining`` requests are left for ``reset`` seconds.

        The server counted that request, and perhaps some started after it: those are taken as not
        counted yet, so the allowance is never more than the server said. An answer to a request
        that started before the one the current word came from is older news and is ignored.
        """
        word = self._server
        if word is not None and slot.number < word.basis:
            return
        later = self._started - slot.number
        allowance = remaining - self.reserve - later
        self._server = _ServerWord(slot.number, self._started, allowance, self._clock() + max(0.0, reset))

    def delay(self) -> float:
        """Seconds until the next request may start (0 when it may start now)."""
        now = self._clock()
        self._forget(now)
        wait = max(0.0, self._blocked_until - now)
        if len(self._slots) >= self.requests:
            # An in-flight request's slot ends no sooner than now: wait for at least a poll.
            wait = max(wait, self._slots[0].time + self.period - now, 0.001)
        word = self._server
        if word is not None and now < word.until and self._started - word.mark >= word.allowance:
            wait = max(wait, word.until - now)
        if self.burst is not None:
            self._refill(now)
            if self._tokens < 1.0:
                wait = max(wait, (1.0 - self._tokens) / self.rate)
        return wait

    async def acquire(self) -> Slot:
        """Wait for room; the slot to hand to :meth:`done` once the answer has arrived."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                await self._sleep(wait)
            if self.burst is not None:
                self._tokens -= 1.0
            self._started += 1
            slot = Slot(self._clock(), self._started)
            self._slots.append(slot)
            return slot

    def done(self, slot: Slot) -> None:
        """The request of ``slot`` has ended (answered or failed): its period runs from now."""
        slot.time = self._clock()

    def _refill(self, now: float) -> None:
        assert self.burst is not None
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    def _forget(self, now: float) -> None:
        # Slots end in about the order they start; one that ended late only stays counted longer.
        while self._slots and self._slots[0].time <= now - self.period:
            self._slots.popleft()
