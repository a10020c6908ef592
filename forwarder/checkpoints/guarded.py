"""Checkpoints that only the Lease holder may move.

A replica that has lost its lease may still hold acknowledgements for windows it read while it
led; committing them could race the new leader. Every commit checks leadership first (on this
replica's clock, which stops leadership before any other replica can take over), and the app
cancels the commit loops the moment a term ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from forwarder.checkpoints.base import CheckpointStore


class Leadership(Protocol):
    """What the guard asks of an elector (``coordination.LeaderElector``)."""

    def ensure_leading(self) -> None:
        """Raise unless this replica leads right now."""


class LeaderGuardedCheckpoints(CheckpointStore):
    def __init__(self, inner: CheckpointStore, leadership: Leadership) -> None:
        self.inner = inner
        self.leadership = leadership

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        # Only the store: the elector's API client belongs to whoever runs the election.
        await self.inner.close()

    async def load(self, stream: str) -> datetime | None:
        return await self.inner.load(stream)

    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        self.leadership.ensure_leading()
        await self.inner.commit(stream, position, remembered)

    async def load_remembered(self, stream: str) -> bytes | None:
        return await self.inner.load_remembered(stream)
