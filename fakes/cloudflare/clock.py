"""A clock a test moves by hand, so that visibility, rate-limit windows and blocks need no sleeping."""

from __future__ import annotations

import time


class ManualClock:
    """Callable like ``time.time``; starts at ``start`` (default: the real time) and moves only when told."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.now += seconds
