"""The forwarder run in-process from the Cloudflare simulator into one network sink, for the sinks'
end-to-end tests: what the sink's receiver took and what the dead letters hold must cover every record."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.base import Sink, SinkSettings
from tests.support.forwarder_runs import ACCOUNT, NOW, dead_lettered, expected_ids, settings, simulator_config


async def run_into(
    sink_class: type[Sink], sink_settings: SinkSettings, tmp_path: Path
) -> tuple[Forwarder, dict[str, str], set[str]]:
    """Run one hour of simulated records into the sink until caught up; the forwarder, the dead letters
    (event id -> reason) and the ids every stream must have delivered or dead-lettered."""
    simulator = Simulator(simulator_config(hours=1))
    base_url = await simulator.start()
    config = settings(base_url, tmp_path, hours=1)
    forwarder = Forwarder.build(
        Config(config, (SinkConfig(sink_class, sink_settings),)),
        Parts(checkpoints=MemoryCheckpointStore(), now=NOW),
    )
    try:
        await forwarder.run(until_caught_up=True)
    finally:
        await simulator.stop()
    owed: set[str] = set()
    for stream in forwarder.streams:
        position = stream.progress.position
        assert position is not None
        held = ((stream.log_type, data) for data in simulator.records(ACCOUNT, stream.log_type.value))
        owed |= expected_ids(held, position, config)
    return forwarder, dead_lettered(config.dead_letter_path), owed


def assert_none_lost(owed: set[str], delivered: Collection[str], dead: Collection[str]) -> None:
    missing = owed - set(delivered) - set(dead)
    assert owed, "the run owed nothing: the simulator made no records"
    assert not missing, f"{len(missing)} of {len(owed)} events lost"
