"""A background task that fails for good ends the run with its error; it never runs on silently."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from forwarder.telemetry.status import StatusBoard
from tests.support.forwarder_runs import NOW, settings, simulator_config


class BrokenStore(MemoryCheckpointStore):
    """Reads fine, refuses every commit: a checkpoint ConfigMap whose RBAC lost `update`, say."""

    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        raise PermissionError("the checkpoint store refuses every write")


@pytest.mark.parametrize("until_caught_up", [True, False])
async def test_a_failing_commit_loop_ends_the_run_and_readyz_says_why(
    until_caught_up: bool, tmp_path: Path
) -> None:
    simulator = Simulator(simulator_config(hours=1))
    base_url = await simulator.start()
    try:
        sink = SinkConfig(FileSink, FileSinkSettings(path=str(tmp_path / "events.ndjson"), fsync=False))
        forwarder = Forwarder.build(
            Config(settings(base_url, tmp_path, hours=1), (sink,)), Parts(checkpoints=BrokenStore(), now=NOW)
        )
        with pytest.raises(PermissionError, match="refuses every write"):
            await forwarder.run(until_caught_up=until_caught_up)
    finally:
        await simulator.stop()
    problems = StatusBoard(forwarder).readiness()
    assert any("stopping on an error: PermissionError: the checkpoint store refuses" in p for p in problems)
