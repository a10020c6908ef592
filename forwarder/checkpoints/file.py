"""Positions kept in one JSON file, replaced atomically so a crash never leaves half a file.

The file is ``{"<account>/<log type>": "<RFC 3339 time>", ...}``. A write goes to a temporary
file in the same directory, is fsynced, renamed over the old one, and the directory is fsynced:
after a power cut the file is either the old or the new version, never a mix.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime
from pathlib import Path

import orjson

from forwarder.checkpoints.base import CheckpointStore


class CheckpointFileError(Exception):
    pass


class FileCheckpointStore(CheckpointStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._positions: dict[str, str] | None = None
        self._lock = asyncio.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as error:
            # Starting over from FORWARDER_START_AT would silently skip or repeat events.
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: cannot read checkpoints from {str(self.path)!r}: {error}; "
                "fix or remove the file"
            ) from error
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: {str(self.path)!r} is not a checkpoint file; fix or remove it"
            )
        return data

    def _write(self, positions: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".checkpoints-", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(orjson.dumps(positions, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def load(self, stream: str) -> datetime | None:
        async with self._lock:
            if self._positions is None:
                self._positions = await asyncio.to_thread(self._read)
            value = self._positions.get(stream)
        return datetime.fromisoformat(value) if value else None

    async def commit(self, stream: str, position: datetime) -> None:
        async with self._lock:
            if self._positions is None:
                self._positions = await asyncio.to_thread(self._read)
            positions = {**self._positions, stream: position.isoformat()}
            await asyncio.to_thread(self._write, positions)
            self._positions = positions

    def check_writable(self) -> None:
        """Fail at start, not at the first commit, when the directory cannot be written."""
        self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(self.path.parent, os.W_OK):
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: directory {str(self.path.parent)!r} is not writable"
            )
