"""Positions kept in one JSON file, replaced atomically so a crash never leaves half a file.

The file is ``{"<account>/<log type>": "<RFC 3339 time>", ...}``. A write goes to a temporary
file in the same directory, is fsynced, renamed over the old one, and the directory is fsynced:
after a power cut the file is either the old or the new version, never a mix.

What each stream remembers beside its position (the ids of recently delivered events) goes to a
second file beside it, ``<name>.remembered<suffix>`` (``{"<stream>": "<base64>"}``), written the
same way and before the positions, so the positions file keeps its plain shape for anyone who
reads it. The ids only name delivered events: a crash between the two writes costs duplicates,
never loss.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path

import orjson

from forwarder.checkpoints.base import CheckpointStore
from forwarder.private_files import fsync_directory

log = logging.getLogger(__name__)


class CheckpointFileError(Exception):
    pass


class FileCheckpointStore(CheckpointStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.remembered_path = path.with_name(f"{path.stem}.remembered{path.suffix}")
        self._positions: dict[str, str] | None = None
        self._remembered: dict[str, str] | None = None
        self._lock = asyncio.Lock()

    def _read(self, path: Path | None = None) -> dict[str, str]:
        path = self.path if path is None else path
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as error:
            # Starting over from FORWARDER_START_AT would silently skip or repeat events.
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: cannot read checkpoints from {str(path)!r}: {error}; "
                "fix or remove the file"
            ) from error
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: {str(path)!r} is not a checkpoint file; fix or remove it"
            )
        return data

    def _write(self, positions: dict[str, str], path: Path | None = None) -> None:
        path = self.path if path is None else path
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".checkpoints-", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(orjson.dumps(positions, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)

    async def load(self, stream: str) -> datetime | None:
        async with self._lock:
            if self._positions is None:
                self._positions = await asyncio.to_thread(self._read)
            value = self._positions.get(stream)
        return datetime.fromisoformat(value) if value else None

    async def load_remembered(self, stream: str) -> bytes | None:
        async with self._lock:
            if self._remembered is None:
                try:
                    self._remembered = await asyncio.to_thread(self._read, self.remembered_path)
                except CheckpointFileError as error:
                    # Only ids of delivered events: without them a restart repeats, it loses nothing.
                    log.warning("ignoring the remembered event ids", extra={"reason": str(error)})
                    self._remembered = {}
            text = self._remembered.get(stream)
        try:
            return base64.b64decode(text, validate=True) if text else None
        except binascii.Error:
            return None  # read again with nothing remembered: duplicates, not loss

    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        async with self._lock:
            if self._positions is None:
                self._positions = await asyncio.to_thread(self._read)
            if remembered is not None:
                if self._remembered is None:
                    self._remembered = await asyncio.to_thread(self._read, self.remembered_path)
                kept = {**self._remembered, stream: base64.b64encode(remembered).decode()}
                await asyncio.to_thread(self._write, kept, self.remembered_path)
                self._remembered = kept
            positions = {**self._positions, stream: position.isoformat()}
            await asyncio.to_thread(self._write, positions)
            self._positions = positions

    async def open(self) -> None:
        """Fail at start, not at the first commit, when the file cannot be read or its directory written."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        self._read()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: cannot create directory {str(self.path.parent)!r}: {error}"
            ) from error
        if not os.access(self.path.parent, os.W_OK):
            raise CheckpointFileError(
                f"FORWARDER_CHECKPOINT_PATH: directory {str(self.path.parent)!r} is not writable"
            )
