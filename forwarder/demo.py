"""`demo`: the whole forwarder against the built-in Cloudflare simulator, into a local file.

No account, token or SIEM needed: the simulator generates a few hours of realistic, messy logs for
one account (both log types, late arrivals, missing fields, unicode, IPv6), the forwarder reads
them with `once` semantics, and the demo checks the output against the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakes.cloudflare.config import DEFAULT_TOKEN, SimulatorConfig
from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.formats import Format
from forwarder.records import event_id, parse_timestamp
from forwarder.settings import Config, Settings, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from forwarder.source.streams import Stream

DEMO_ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
# The file sink's own default, so that the demo shows what a configured file sink writes.
DEFAULT_FORMAT: Format = FileSinkSettings.model_fields["format"].default


async def demo(output: Path, *, hours: float, fmt: Format) -> dict[str, tuple[int, int]]:
    """Run it; per stream, (events delivered, records the simulator holds in the window read)."""
    now = datetime.now(UTC).replace(microsecond=0)
    simulator = Simulator(
        SimulatorConfig(
            accounts=[DEMO_ACCOUNT],
            start=now - timedelta(hours=hours),
            end=now,
            access_per_minute=20,
            scim_per_minute=3,
        )
    )
    base_url = await simulator.start()
    try:
        settings = Settings(
            cloudflare_api_token=DEFAULT_TOKEN,
            cloudflare_api_base_url=base_url,
            account_ids=[DEMO_ACCOUNT],
            start_at=f"{hours * 3600:.0f}s",
            # The simulator's late records appear within two minutes of their time: a settle
            # delay longer than that is what makes the read complete.
            settle_delay=180,
            dead_letter_path=output.with_name(output.stem + "-dead-letters.ndjson"),
            checkpoint_store="memory",
            progress_interval=2,
        )
        sink = SinkConfig(FileSink, FileSinkSettings(path=str(output), format=fmt, fsync=False))
        forwarder = Forwarder.build(
            Config(settings, (sink,)), Parts(checkpoints=MemoryCheckpointStore(), now=now)
        )
        delivered: set[str] = set()
        forwarder.pipeline.on_acknowledged(
            lambda records: delivered.update(record.event_id for record in records)
        )
        await forwarder.run(until_caught_up=True)
        return {stream.key: _tally(stream, simulator, delivered) for stream in forwarder.streams}
    finally:
        await simulator.stop()


def _tally(stream: Stream, simulator: Simulator, delivered: set[str]) -> tuple[int, int]:
    """(events written, records of the window read that are missing from the output)."""
    end = stream.progress.position
    missing = 0
    for record in simulator.records(DEMO_ACCOUNT, stream.log_type.value):
        data: Mapping[str, Any] = record
        moment = parse_timestamp(stream.log_type.time_value(data))
        # A record without a time cannot be placed in a window; it is written when read.
        if moment is None or (end is not None and moment >= end):
            continue
        if stream.prepare is not None:
            data = stream.prepare(data)
        if event_id(stream.log_type, DEMO_ACCOUNT, data) not in delivered:
            missing += 1
    return stream.progress.events, missing


def run_demo(output: Path, *, hours: float, fmt: Format | None) -> int:
    output.unlink(missing_ok=True)
    counts = asyncio.run(demo(output, hours=hours, fmt=fmt or DEFAULT_FORMAT))
    print(f"\nDemo: {hours:g} h of simulated Cloudflare Access logs, {len(counts)} streams")
    ok = True
    for stream, (written, missing) in counts.items():
        verdict = "none missing" if missing == 0 else f"{missing} MISSING"
        print(f"  {stream}: {written} events written; checked against the simulator: {verdict}")
        ok = ok and missing == 0
    print(f"Events: {output.resolve()}")
    print(f"See one: head -n 1 {output}")
    return 0 if ok else 1
