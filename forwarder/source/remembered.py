"""The event ids a stream remembers, so that reading a stretch of time again delivers nothing twice.

Windows overlap, and a trailing re-read goes back over the late horizon: every record read there
again must be recognised. In memory a stream keeps the whole ids of what it read; after a restart
it starts from the ids kept with the checkpoint (:mod:`forwarder.checkpoints.remembered`), which
are cut short to fit a ConfigMap: an id read again matches when it starts with one of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from forwarder.records import Record


class SeenIds:
    """Event ids already read, forgotten once older than anything a window can re-read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: dict[str, datetime] = {}
        # Prefixes restored from a checkpoint: whole ids are not kept there.
        self._restored: dict[str, datetime] = {}
        self._prefix_length = 0

    def __contains__(self, event_id: object) -> bool:
        if event_id in self._times:
            return True
        return (
            bool(self._restored)
            and isinstance(event_id, str)
            and event_id[: self._prefix_length] in self._restored
        )

    def unseen(self, records: Sequence[Record]) -> list[Record]:
        """The records whose event id is not :meth:`in <__contains__>` these: one comprehension
        per page, no call per record while no prefix was restored."""
        if self._restored:
            return [record for record in records if record.event_id not in self]
        times = self._times
        return [record for record in records if record.event_id not in times]

    def __len__(self) -> int:
        return len(self._times) + len(self._restored)

    def add(self, event_id: str, moment: datetime) -> None:
        self._times[event_id] = moment
        if len(self._times) > self.limit:
            # Dicts keep insertion order: drop the oldest tenth at once, not one id per insert.
            for key in list(self._times)[: self.limit // 10]:
                del self._times[key]

    def add_all(self, pairs: Collection[tuple[str, datetime]]) -> None:
        """:meth:`add` of each (event id, time) in ``pairs``, in order: one update when no id has to
        be forgotten to make room."""
        if len(self._times) + len(pairs) <= self.limit:
            self._times.update(pairs)
            return
        for event_id, moment in pairs:
            self.add(event_id, moment)

    def restore(self, prefixes: Iterable[str], moment: datetime) -> None:
        """Remember ids kept with a checkpoint (prefixes of one length), as if read at ``moment``."""
        for prefix in prefixes:
            self._prefix_length = len(prefix)
            self._restored[prefix] = moment

    def forget_before(self, moment: datetime) -> None:
        self._times = {key: seen for key, seen in self._times.items() if seen >= moment}
        if self._restored:
            self._restored = {key: seen for key, seen in self._restored.items() if seen >= moment}
