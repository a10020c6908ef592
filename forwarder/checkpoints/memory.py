"""Positions kept in memory: for tests, `demo` and one-off runs that may start over."""

from __future__ import annotations

from datetime import datetime

from forwarder.checkpoints.base import CheckpointStore


class MemoryCheckpointStore(CheckpointStore):
    def __init__(self) -> None:
        self.positions: dict[str, datetime] = {}

    async def load(self, stream: str) -> datetime | None:
        return self.positions.get(stream)

    async def commit(self, stream: str, position: datetime) -> None:
        self.positions[stream] = position
