"""`replay-dlq`: send dead-lettered events again, once the cause of their rejection is fixed.

The dead-letter files are first renamed to ``<name>.replaying``, so that an event rejected again
lands in a fresh dead-letter file and a replay never reads its own output. Each event is mapped
anew (a mapping fix takes effect) and sent to the sink that rejected it, if that sink is
configured now; lines for other sinks, and lines that cannot be read, are written back to the
dead-letter file untouched. A ``.replaying`` file is deleted only after its last event is
delivered or dead-lettered again; a crash mid-way leaves it to be picked up by the next replay.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.fan_out import Pipeline
from forwarder.records import LogType, Record, make_record
from forwarder.retry import Backoff
from forwarder.settings import Config

log = logging.getLogger(__name__)

# A person asked for these events to be sent: the age limit of live traffic does not apply.
NO_AGE_LIMIT = 10 * 365 * 86400.0
CHUNK = 1000


@dataclass
class ReplayReport:
    sent: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    unreadable: int = 0
    files: list[str] = field(default_factory=list)


def claim(dead_letters: DeadLetters) -> list[Path]:
    """Rename the dead-letter files for replay; include those a crashed replay left behind."""
    claimed = sorted(dead_letters.path.parent.glob(f"{dead_letters.path.name}*.replaying"))
    for path in dead_letters.files():
        target = path.with_name(path.name + ".replaying")
        path.replace(target)
        claimed.append(target)
    return claimed


def read_lines(path: Path) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
    with path.open("rb") as handle:
        for line in handle:
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield line, None
                continue
            yield line, entry if isinstance(entry, dict) else None


def to_record(entry: dict[str, Any]) -> Record | None:
    try:
        log_type = LogType(entry["log_type"])
        data = entry["record"]
        account_id = str(entry["account_id"])
    except (KeyError, ValueError):
        return None
    return make_record(log_type, account_id, data) if isinstance(data, dict) else None


async def replay(config: Config, only: Sequence[str] = ()) -> ReplayReport:
    settings = config.settings
    dead_letters = DeadLetters.from_settings(settings)
    sinks = {sink.sink_class.name: sink for sink in config.sinks if not only or sink.sink_class.name in only}
    pipelines: dict[str, Pipeline] = {}
    report = ReplayReport()
    try:
        for name, sink_config in sinks.items():
            pipelines[name] = Pipeline(
                [sink_config.build()],
                dead_letters,
                backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
                max_event_age=NO_AGE_LIMIT,
            )
            await pipelines[name].open()
        for path in claim(dead_letters):
            report.files.append(str(path))
            await replay_file(path, pipelines, dead_letters, report)
            path.unlink()
    finally:
        for pipeline in pipelines.values():
            await pipeline.close()
    return report


async def replay_file(
    path: Path, pipelines: dict[str, Pipeline], dead_letters: DeadLetters, report: ReplayReport
) -> None:
    pending: dict[str, list[Record]] = defaultdict(list)
    kept: list[bytes] = []

    async def flush(sink: str) -> None:
        await pipelines[sink].deliver(pending[sink])
        report.sent[sink] += len(pending[sink])
        pending[sink].clear()

    for line, entry in read_lines(path):
        record = to_record(entry) if entry is not None else None
        targets = (
            [name for name in str(entry.get("sink", "")).split(",") if name in pipelines] if entry else []
        )
        if record is None or not targets:
            report.unreadable += record is None
            report.kept += 1
            kept.append(line if line.endswith(b"\n") else line + b"\n")
            continue
        for sink in targets:
            pending[sink].append(record)
            if len(pending[sink]) >= CHUNK:
                await flush(sink)
    for sink in list(pending):
        if pending[sink]:
            await flush(sink)
    if kept:
        # Written back as they were: another sink's letters, or lines a person should look at.
        await dead_letters.add_raw(kept)
