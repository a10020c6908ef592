"""The dead-letter file: events a sink can never accept, with the sink and the reason.

One NDJSON line per rejected event: ``{"time", "sink", "reason", "event_id", "account_id",
"log_type", "record", "document"}``; enough to understand the rejection and to send it again
(``replay-dlq``) once the cause is fixed. A dead-lettered event counts as handled for the
checkpoint, so every line here is an event the SIEM does not have: each is counted and logged.

The file is capped: past ``max_bytes`` it is rotated to ``<path>.1`` (``.1`` to ``.2`` and so on),
keeping ``backups`` old files. Deleting the oldest file is the one place events can leave the
forwarder unshipped, so it is logged as an error with the number of events it held.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from forwarder.records import Record

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    sink: str
    reason: str
    document: Mapping[str, Any] | None = None

    def encode(self, now: datetime) -> bytes:
        return orjson.dumps(
            {
                "time": now.isoformat(),
                "sink": self.sink,
                "reason": self.reason,
                "event_id": self.record.event_id,
                "account_id": self.record.account_id,
                "log_type": self.record.log_type.value,
                "record": self.record.data,
                "document": self.document,
            },
            default=str,
        )


def rotated(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


class DeadLetters:
    def __init__(self, path: Path, *, max_bytes: int = 100_000_000, backups: int = 5) -> None:
        if backups < 1:
            raise ValueError("keep at least one rotated dead-letter file")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.count = 0
        self.discarded = 0
        self._lock = asyncio.Lock()

    async def add(
        self, record: Record, *, sink: str, reason: str, document: Mapping[str, Any] | None = None
    ) -> None:
        await self.add_many([DeadLetter(record, sink, reason, document)])

    async def add_many(self, letters: Iterable[DeadLetter]) -> None:
        """Append ``letters`` durably (fsynced) before returning: only then are they handled."""
        letters = list(letters)
        if not letters:
            return
        now = datetime.now(UTC)
        data = b"".join(letter.encode(now) + b"\n" for letter in letters)
        async with self._lock:
            await asyncio.to_thread(self._append, data)
            self.count += len(letters)
        for letter in letters:
            log.error(
                "event dead-lettered",
                extra={
                    "sink": letter.sink,
                    "reason": letter.reason,
                    "event_id": letter.record.event_id,
                    "path": str(self.path),
                },
            )

    async def add_raw(self, lines: Iterable[bytes]) -> None:
        """Append lines that already are dead letters (kept back by a replay), unchanged."""
        data = b"".join(lines)
        if data:
            async with self._lock:
                await asyncio.to_thread(self._append, data)

    def files(self) -> list[Path]:
        """The current file and its rotated predecessors that exist, oldest last."""
        candidates = [self.path, *(rotated(self.path, index) for index in range(1, self.backups + 1))]
        return [path for path in candidates if path.exists()]

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(data) > self.max_bytes:
            self._rotate()
        with self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _rotate(self) -> None:
        oldest = rotated(self.path, self.backups)
        if oldest.exists():
            lost = sum(1 for _ in oldest.open("rb"))
            self.discarded += lost
            log.error(
                "dead-letter files full: deleting the oldest; its events are gone for good "
                "(raise FORWARDER_DEAD_LETTER_MAX_BYTES or replay them with `replay-dlq`)",
                extra={"path": str(oldest), "events": lost},
            )
            oldest.unlink()
        for index in range(self.backups - 1, 0, -1):
            source = rotated(self.path, index)
            if source.exists():
                source.replace(rotated(self.path, index + 1))
        self.path.replace(rotated(self.path, 1))
