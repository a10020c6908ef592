"""The per-record glue between a parsed page and a sink's answer, in process: a real Stream (paging,
de-duplication), its Checkpointer and the Pipeline (fan-out, sink worker, settling, commits) over a
client that serves already-parsed pages and a sink that takes every batch at once (raw format).

No HTTP, no ECS: what is left is `make_record`, the raw format's `orjson.dumps` and the glue around
them. Used by ``benchmarks.stage_bench``; to time another checkout with this file (an A/B against a
tree that does not have it), run it by path with that tree first on PYTHONPATH:

    PYTHONPATH=<tree> .venv/bin/python <this tree>/benchmarks/glue_stage.py [--records 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.pipeline.checkpointer import Checkpointer
from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.fan_out import Pipeline
from forwarder.records import LogType
from forwarder.retry import Backoff
from forwarder.sinks.base import Event, SendResult, Sink, SinkSettings
from forwarder.source.client import Envelope
from forwarder.source.page_sizes import PageSizes
from forwarder.source.stream_state import StreamOptions
from forwarder.source.streams import Stream

ACCOUNT = "0123456789abcdef0123456789abcdef"
PAGE = 1000


class _Settings(SinkSettings):
    pass


class NullSink(Sink):
    """Takes every batch at once."""

    name = "null"
    settings_model = _Settings

    async def send(self, batch: Sequence[Event]) -> SendResult:
        return SendResult()


class PagesClient:
    """Serves ``data`` by page number, whatever the window: one window reads it all."""

    def __init__(self, data: list[Mapping[str, Any]]) -> None:
        self.data = data
        self.page_sizes = PageSizes()

    async def get(self, path: str, params: Any, *, operation: str, account_id: str) -> Envelope:
        page = dict(params)["page"]
        assert isinstance(page, int)
        return Envelope(result=self.data[(page - 1) * PAGE : page * PAGE])


async def read_all(data: list[Mapping[str, Any]], scratch: Path) -> None:
    """One stream reads ``data`` (one window, pages of 1,000) into the null sink; committed at the end."""
    now = datetime.now(UTC).replace(microsecond=0)
    options = StreamOptions(
        poll_interval=1.0,
        overlap=0.0,
        settle_delay=0.0,
        max_window=10 * 365 * 86400.0,
        page_size=PAGE,
        max_pages=100_000,
        start=now - timedelta(days=3650),
    )
    sink = NullSink(_Settings(batch_max_age=0.01))
    pipeline = Pipeline([sink], DeadLetters(scratch / "dead.ndjson"), backoff=Backoff(), max_event_age=3600.0)
    await pipeline.open()
    checkpointer = Checkpointer(
        "bench",
        MemoryCheckpointStore(),
        pipeline.submit,
        reread_span=options.reread_span,
        checkpoint_ids=2000,
    )
    stream = Stream(
        PagesClient(data), ACCOUNT, LogType.ACCESS_REQUESTS, options, checkpointer, clock=lambda: now
    )  # type: ignore[arg-type]
    committing = asyncio.create_task(checkpointer.run(stream.progress))
    await stream.read(until_caught_up=True)
    await checkpointer.flush()
    committing.cancel()
    await pipeline.close()
    assert stream.progress.events == len(data), stream.progress.events


def glue(data: list[Mapping[str, Any]], repeat: int) -> float:
    """CPU µs per record of :func:`read_all`, the best of ``repeat`` runs."""
    times = []
    # The served pages stay alive through every run: out of the collector's way, as the CLI's
    # start-up objects are (gc.freeze), so that its full collections do not scale with --records.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            gc.collect()
            # CPU time, not wall time: less sensitive to other work on the machine.
            started = time.process_time()
            asyncio.run(read_all(data, Path(scratch)))
            times.append(time.process_time() - started)
    return min(times) / len(data) * 1e6


def main() -> int:
    # Only the command needs the simulator: glue() imports nothing outside forwarder.
    from benchmarks.e2e.scenarios import ACCOUNT as account
    from benchmarks.e2e.scenarios import Dataset, simulator
    from fakes.cloudflare.config import ACCESS_REQUESTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()
    with simulator(Dataset.ending_now(arguments.records)) as running:
        data = running.records(account, ACCESS_REQUESTS)[: arguments.records]
    print(f"stream -> pipeline -> null sink (raw) {glue(data, arguments.repeat):6.2f} µs per record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
