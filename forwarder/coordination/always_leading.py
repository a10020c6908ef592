"""The election of a replica that runs without leader election: it leads from start to end.

With it, a forwarder without a Lease runs the very path a Lease holder runs: one term that is
never lost, nothing to campaign for, nothing to release.
"""

from __future__ import annotations

import asyncio

from forwarder.coordination.lease import Term


class AlwaysLeading:
    def __init__(self) -> None:
        self.term = Term(1)

    async def run(self) -> None:
        """Nothing to campaign for: wait until cancelled, as a campaign does."""
        await asyncio.Event().wait()

    async def leading(self) -> Term:
        return self.term

    def is_leader(self) -> bool:
        return True

    def ensure_leading(self) -> None:
        """Always leading: nothing to refuse."""

    async def release(self) -> None:
        """No Lease to hand back."""

    async def close(self) -> None:
        """No API client to close."""
