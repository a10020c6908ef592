"""Cloudflare's per-user API budget: N requests in a sliding period, then a block of every call.

Time inside the limiter is *simulated* seconds (the clock times ``time_scale``), so a benchmark can live
through a 300 s block in a few real seconds; everything it tells a client is converted back to real seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fakes.cloudflare.config import RateLimit


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int
    window: int
    retry_after: int | None = None
    started_block: bool = False

    def headers(self) -> dict[str, str]:
        """Both header styles Cloudflare sends: ``X-RateLimit-*`` and the IETF draft ``Ratelimit``."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "Ratelimit": f'"default";r={self.remaining};t={self.reset}',
            "Ratelimit-Policy": f'"default";q={self.limit};w={self.window}',
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass
class _Budget:
    starts: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class RateLimiter:
    def __init__(self, policy: RateLimit, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._budgets: dict[str, _Budget] = {}
        self.blocks_started = 0

    def _real_seconds(self, simulated: float) -> int:
        return max(1, math.ceil(simulated / self.policy.time_scale))

    def spend(self, bucket: str) -> RateDecision:
        """Count one request against ``bucket``; a refused request is not counted."""
        policy = self.policy
        now = self._clock() * policy.time_scale
        budget = self._budgets.setdefault(bucket, _Budget())
        window = self._real_seconds(policy.period)
        if now < budget.blocked_until:
            wait = self._real_seconds(budget.blocked_until - now)
            return RateDecision(False, policy.requests, 0, wait, window, retry_after=wait)
        starts = budget.starts
        while starts and starts[0] <= now - policy.period:
            starts.popleft()
        if len(starts) >= policy.requests:
            # Cloudflare forgets the window once it blocks: after the block the full budget is back.
            starts.clear()
            budget.blocked_until = now + policy.block
            self.blocks_started += 1
            wait = self._real_seconds(policy.block)
            return RateDecision(False, policy.requests, 0, wait, window, retry_after=wait, started_block=True)
        starts.append(now)
        remaining = policy.requests - len(starts)
        reset = self._real_seconds(starts[0] + policy.period - now)
        return RateDecision(True, policy.requests, remaining, reset, window)
