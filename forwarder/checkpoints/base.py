"""Where each stream's position is kept: the time up to which every event has been delivered.

Beside the position, a stream may keep a few bytes (``remembered``) that it alone reads: the ids
of the events delivered just before the position, so that the windows a restart reads again do not
deliver them twice. A store keeps them with the position, written no later than the position.
They only ever name events already delivered, so an old or missing copy costs duplicates, not loss.
"""

from __future__ import annotations

import abc
from datetime import datetime


class CheckpointStore(abc.ABC):
    @abc.abstractmethod
    async def load(self, stream: str) -> datetime | None:
        """The committed position of ``stream``, or None when it has none yet."""

    @abc.abstractmethod
    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        """Record that every event of ``stream`` before ``position`` is delivered. Durable on return.

        ``remembered`` (when given) replaces what was kept with the position.
        """

    async def load_remembered(self, stream: str) -> bytes | None:
        """What the last commit of ``stream`` kept beside its position; None for stores that keep none."""
        return None
