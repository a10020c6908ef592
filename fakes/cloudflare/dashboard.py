"""A person using the Cloudflare dashboard with the same user as the forwarder: the budget is shared.

The dashboard spends the user's budget like any API client (Cloudflare counts it in the same 1200
requests per 5 minutes). A person clicks: each click is a few requests at once, and the clicks come at
an even pace, ``requests`` per ``period`` simulated seconds in all. What the rate limiter refused them
is counted in ``refused``: the 429 blocks a person would see.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from fakes.cloudflare.server import Simulator


@dataclass
class DashboardUser:
    """Start with :meth:`start` on the simulator's loop (``SimulatorThread.call``), end with :meth:`stop`."""

    simulator: Simulator
    # The credential's label (``Credential.label``): its rate-limit budget is the one spent.
    credential: str
    requests: int = 150
    period: float = 300.0
    per_click: int = 10
    spent: int = 0
    refused: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._click())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _click(self) -> None:
        policy = self.simulator.config.rate_limit
        # Real seconds between clicks: the simulated pace compressed like every simulated duration.
        interval = self.period * self.per_click / self.requests / policy.time_scale
        while True:
            for _ in range(self.per_click):
                decision = self.simulator.rate_limiter.spend(self.credential)
                self.spent += 1
                self.refused += not decision.allowed
            await asyncio.sleep(interval)
