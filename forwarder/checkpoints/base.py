"""Where each stream's position is kept: the time up to which every event has been delivered."""

from __future__ import annotations

import abc
from datetime import datetime


class CheckpointStore(abc.ABC):
    @abc.abstractmethod
    async def load(self, stream: str) -> datetime | None:
        """The committed position of ``stream``, or None when it has none yet."""

    @abc.abstractmethod
    async def commit(self, stream: str, position: datetime) -> None:
        """Record that every event of ``stream`` before ``position`` is delivered. Durable on return."""
