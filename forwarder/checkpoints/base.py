"""Where each stream's position is kept: the time up to which every event has been delivered.

Beside the position, a stream may keep a few bytes (``remembered``) that it alone reads: the ids
of the events delivered just before the position, so that the windows a restart reads again do not
deliver them twice. A store keeps them with the position, written no later than the position.
They only ever name events already delivered, so an old or missing copy costs duplicates, not loss.

A store has a life: the app calls :meth:`CheckpointStore.open` before anything reads or
commits, and :meth:`CheckpointStore.close` when the run ends, whatever way it ends.
"""

from __future__ import annotations

import abc
from datetime import datetime


class CheckpointStore(abc.ABC):
    async def open(self) -> None:  # noqa: B027 - optional hook, the memory store needs nothing here
        """Make sure the store can be used before the first read: fail at start, not at the first commit.

        When the store cannot be read or written (a corrupt file, a directory that is not writable,
        a ConfigMap the service account may not read), raise an error whose message names the
        setting to fix (``FORWARDER_CHECKPOINT_PATH``, ``FORWARDER_KUBERNETES_CONFIGMAP``, ...) and
        what is wrong. A transient failure may be retried here, for a bounded time. ``open`` may be
        cancelled (a SIGTERM during start-up) at any await. The default: nothing to check.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`open` (or the store's construction) took: clients, connections, files.

        Called once when the run ends, also after an ``open`` that failed, was cancelled or never
        ran, so it must not assume ``open`` succeeded. A store is not used after ``close``. The
        default: nothing to release.
        """

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
