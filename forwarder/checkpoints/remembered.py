"""What a stream keeps beside its checkpoint: the ids of the events every sink acknowledged in the
span a restart reads again, so a graceful restart delivers nothing twice.

The ids kept with a checkpoint are cut to 64 bits (8 bytes) to fit a ConfigMap: among the few
thousand ids of one stream's span, two distinct records share a prefix with a chance of about 1 in
10^12.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)

PREFIX = 16
_FORMAT = "v1"


@dataclass(frozen=True)
class Remembered:
    """What a stream keeps beside its checkpoint.

    ``ids``: prefixes of the events delivered in the span a restart reads again.
    ``floor``: no re-read goes before it (where the stream first started), or None.
    Kept as bytes: a header line, then 8 bytes per id.
    """

    ids: tuple[str, ...] = ()
    floor: datetime | None = None

    def encode(self) -> bytes:
        floor = self.floor.isoformat() if self.floor is not None else "-"
        return f"{_FORMAT} {floor}\n".encode() + bytes.fromhex("".join(self.ids))

    @classmethod
    def decode(cls, data: bytes | None) -> Remembered | None:
        """None for nothing kept, or for what this version cannot read (the stream then re-reads
        with nothing remembered: duplicates, never loss)."""
        if not data:
            return None
        header, _, packed = data.partition(b"\n")
        parts = header.decode("ascii", "replace").split(" ")
        if len(parts) != 2 or parts[0] != _FORMAT or len(packed) % (PREFIX // 2):
            log.warning("ignoring remembered event ids kept in a format this version cannot read")
            return None
        try:
            floor = None if parts[1] == "-" else datetime.fromisoformat(parts[1])
        except ValueError:
            return None
        size = PREFIX // 2
        return cls(tuple(packed[index : index + size].hex() for index in range(0, len(packed), size)), floor)


class Delivered:
    """Ids every sink acknowledged, with their times, for as long as a restart may read them again."""

    def __init__(self) -> None:
        self._times: dict[str, datetime] = {}

    def __len__(self) -> int:
        return len(self._times)

    def add(self, pairs: Iterable[tuple[str, datetime]]) -> None:
        times = self._times
        for event_id, moment in pairs:
            times[event_id[:PREFIX]] = moment

    def forget_before(self, moment: datetime) -> None:
        if self._times and min(self._times.values()) < moment:
            self._times = {key: seen for key, seen in self._times.items() if seen >= moment}

    def newest(self, limit: int) -> tuple[tuple[str, ...], datetime | None]:
        """At most ``limit`` ids (the newest, when there are more), and the time of the newest one
        left out (None when none was): a restart may deliver again what is that old or older."""
        if len(self._times) <= limit:
            return tuple(self._times), None
        ordered = sorted(self._times.items(), key=lambda item: item[1], reverse=True)
        return tuple(key for key, _ in ordered[:limit]), ordered[limit][1]
