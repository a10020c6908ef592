"""Positions kept in memory: for tests, `demo` and one-off runs that may start over."""

from __future__ import annotations

from datetime import datetime

from forwarder.checkpoints.base import CheckpointStore


class MemoryCheckpointStore(CheckpointStore):
    """Nothing to check at open, nothing to release at close: the defaults of the contract."""

    def __init__(self) -> None:
        self.positions: dict[str, datetime] = {}
        self.remembered: dict[str, bytes] = {}

    async def load(self, stream: str) -> datetime | None:
        return self.positions.get(stream)

    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        self.positions[stream] = position
        if remembered is not None:
            self.remembered[stream] = remembered

    async def load_remembered(self, stream: str) -> bytes | None:
        return self.remembered.get(stream)
