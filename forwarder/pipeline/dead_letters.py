"""The dead-letter file: events a sink can never accept, with the sink and the reason.

One NDJSON line per rejected event: ``{"time", "sink", "reason", "event_id", "account_id",
"log_type", "record", "document"}``; enough to understand the rejection and to send it again
(``replay-dlq``) once the cause is fixed. A dead-lettered event counts as handled for the
checkpoint, so every line here is an event the SIEM does not have: each is counted and logged.

The file is capped: past ``max_bytes`` it is rotated to ``<path>.1`` (``.1`` to ``.2`` and so on),
keeping ``backups`` old files. Deleting the oldest file is the one place events can leave the
forwarder unshipped, so it is logged as an error with the number of events it held.

The lines hold whole Cloudflare records, personal data included, so the files are created with
``mode`` (0600, owner only, unless widened to 0640) whatever the process umask, and the directories
the forwarder creates for them with 0700 (0750), by the helpers of ``private_files``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from forwarder.private_files import (
    conform_mode,
    directory_mode,
    fsync_directory,
    make_directories,
    open_private,
)
from forwarder.records import Record

if TYPE_CHECKING:
    from forwarder.settings import Settings

log = logging.getLogger(__name__)

# Named in warnings about permissions, so that an operator knows what to change.
SETTING = "FORWARDER_DEAD_LETTER_MODE"


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
    def __init__(
        self, path: Path, *, max_bytes: int = 100_000_000, backups: int = 5, mode: int = 0o600
    ) -> None:
        if backups < 1:
            raise ValueError("keep at least one rotated dead-letter file")
        if mode & ~0o777 or mode & 0o600 != 0o600:
            raise ValueError(f"dead-letter file mode {mode:o}: permission bits with owner read and write")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.mode = mode
        self.count = 0
        self.discarded = 0
        self._lock = asyncio.Lock()
        self._conform_existing()

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadLetters:
        return cls(
            settings.dead_letter_path,
            max_bytes=settings.dead_letter_max_bytes,
            backups=settings.dead_letter_backups,
            mode=int(settings.dead_letter_mode, 8),
        )

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

    def _conform_existing(self) -> None:
        """Give files left by an older version (0644 by the umask) the configured mode now.

        The current file would be fixed at the next dead letter, but rotated ones are never opened
        again: without this they would stay readable by everyone until rotation deletes them.
        """
        try:
            for path in self.files():
                conform_mode(path, path, self.mode, log, SETTING)
        except OSError as error:
            # Not fatal here: writing, which needs the same access, reports it where it matters.
            log.warning(
                "cannot check the permissions of the dead-letter files",
                extra={"path": str(self.path), "reason": error.strerror},
            )

    def _append(self, data: bytes) -> None:
        make_directories(self.path.parent, directory_mode(self.mode))
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        rotating = bool(size) and size + len(data) > self.max_bytes
        if rotating:
            self._rotate()
        handle, created = open_private(self.path, self.mode, log, SETTING)
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if created or rotating:
            # The new name (and the renames of a rotation) must be durable too before these
            # letters count as handled, or a power cut could lose the whole file.
            fsync_directory(self.path.parent)

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
