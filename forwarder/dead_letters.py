"""The dead-letter file: events a sink can never accept, with the sink and the reason.

One NDJSON line per rejected event: ``{"time", "sink", "reason", "event_id", "account_id",
"log_type", "record", "document"}``; enough to understand the rejection and to send it again
once the cause is fixed. A dead-lettered event counts as handled for the checkpoint, so every
line here is an event the SIEM does not have: it is counted and logged, never silent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from forwarder.records import Record

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._lock = asyncio.Lock()

    async def add(
        self, record: Record, *, sink: str, reason: str, document: Mapping[str, Any] | None = None
    ) -> None:
        line = orjson.dumps(
            {
                "time": datetime.now(UTC).isoformat(),
                "sink": sink,
                "reason": reason,
                "event_id": record.event_id,
                "account_id": record.account_id,
                "log_type": record.log_type.value,
                "record": record.data,
                "document": document,
            },
            default=str,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line + b"\n")
            self.count += 1
        log.error(
            "event dead-lettered",
            extra={"sink": sink, "reason": reason, "event_id": record.event_id, "path": str(self.path)},
        )

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
