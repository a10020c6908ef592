"""The file sink: NDJSON, one event per line, to a file or to standard output.

It is the demo's sink and a way to hand events to any log agent that tails files. An event
counts as delivered once written and flushed (and fsynced, unless turned off).
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from forwarder.sinks.base import (
    Event,
    RetryableError,
    SendResult,
    Sink,
    SinkConfigError,
    SinkSettings,
)

# Errors no retry can fix: a person must change the path or its permissions.
PERMANENT_ERRORS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR})


class FileSinkSettings(SinkSettings):
    model_config = SettingsConfigDict(env_prefix="FORWARDER_FILE__", extra="ignore", frozen=True)

    path: str = Field(default="-", description="File to append NDJSON to; `-` is standard output.")
    fsync: bool = Field(
        default=True, description="fsync after each batch, so a delivered event survives a power cut."
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
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = await asyncio.to_thread(path.open, "ab")
        except OSError as error:
            raise SinkConfigError(
                f"FORWARDER_FILE__PATH: cannot open {str(path)!r} for appending: {error.strerror}"
            ) from error

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
