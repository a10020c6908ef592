"""The file sink: NDJSON, one event per line, to a file or to standard output.

It is the demo's sink and a way to hand events to any log agent that tails files. An event
counts as delivered once written and flushed (and fsynced, unless turned off).

The events hold personal data: the file is created with ``mode`` (0600 unless widened to 0640 for a
log agent's group) whatever the umask, and the directories the sink creates with 0700 (0750).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from forwarder.formats import DocumentFormat
from forwarder.private_files import directory_mode, fsync_directory, make_directories, open_private
from forwarder.sinks.base import (
    Event,
    RetryableError,
    SendResult,
    Sink,
    SinkConfigError,
    SinkSettings,
)

log = logging.getLogger(__name__)

# Errors no retry can fix: a person must change the path or its permissions.
PERMANENT_ERRORS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR})


class FileSinkSettings(SinkSettings):
    model_config = SettingsConfigDict(env_prefix="FORWARDER_FILE__", extra="ignore", frozen=True)

    # ECS by default, as `demo` writes: a file is usually read by a SIEM's agent, which wants mapped events.
    format: DocumentFormat = Field(
        default="ecs", description="Output format of this sink: `raw`, `ecs` (default) or `ocsf`."
    )
    path: str = Field(default="-", description="File to append NDJSON to; `-` is standard output.")
    fsync: bool = Field(
        default=True, description="fsync after each batch, so a delivered event survives a power cut."
    )
    mode: Literal["0600", "0640"] = Field(
        default="0600",
        description="Permissions of the file (events hold personal data): owner only, or `0640` to let "
        "the file's group (a log agent's) read it. An existing file is changed to them, with a warning. "
        "Directories the sink creates are 0700 (0750).",
    )


class FileSink(Sink):
    name = "file"
    settings_model = FileSinkSettings

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, FileSinkSettings)
        self.file_settings = settings
        self._stream: BinaryIO | None = None

    @property
    def to_stdout(self) -> bool:
        return self.file_settings.path == "-"

    async def open(self) -> None:
        if self.to_stdout:
            self._stream = sys.stdout.buffer
            return
        path = Path(self.file_settings.path)
        try:
            self._stream = await asyncio.to_thread(self._open_file, path)
        except OSError as error:
            raise SinkConfigError(
                f"FORWARDER_FILE__PATH: cannot open {str(path)!r} for appending: {error.strerror}"
            ) from error

    def _open_file(self, path: Path) -> BinaryIO:
        mode = int(self.file_settings.mode, 8)
        make_directories(path.parent, directory_mode(mode))
        stream, created = open_private(path, mode, log, "FORWARDER_FILE__MODE")
        if created and self.file_settings.fsync:
            # Without this, a power cut could take the new file, and the events in it, away. With
            # fsync off, durability was given up for speed (or for a file system that refuses it).
            try:
                fsync_directory(path.parent)
            except BaseException:
                stream.close()
                raise
        return stream

    async def check(self) -> None:
        if self._stream is None:
            await self.open()

    async def send(self, batch: Sequence[Event]) -> SendResult:
        if self._stream is None:
            await self.open()
        stream = self._stream
        assert stream is not None
        data = b"".join(event.body + b"\n" for event in batch)
        try:
            # A write to a slow disk must not stall the event loop (and with it every other sink).
            await asyncio.to_thread(self._write, stream, data)
        except OSError as error:
            problem = f"cannot write to {self.file_settings.path!r}: {error.strerror}"
            if error.errno in PERMANENT_ERRORS:
                raise SinkConfigError(f"FORWARDER_FILE__PATH: {problem}") from error
            # A full disk or an I/O error may pass; the batch is not lost, it is retried.
            raise RetryableError(problem) from error
        return SendResult()

    def _write(self, stream: BinaryIO, data: bytes) -> None:
        stream.write(data)
        stream.flush()
        if self.file_settings.fsync and not self.to_stdout:
            os.fsync(stream.fileno())

    async def close(self) -> None:
        if self._stream is not None and not self.to_stdout:
            self._stream.close()
        self._stream = None

    def describe(self) -> str:
        where = "standard output" if self.to_stdout else self.file_settings.path
        return f"file {where} ({self.format})"
