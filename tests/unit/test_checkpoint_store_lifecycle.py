"""Every checkpoint store opens (failing at start, naming the setting) and closes; the runner only
calls the contract, whichever store it was given."""

from __future__ import annotations

import ast
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

import forwarder.app
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.file import CheckpointFileError, FileCheckpointStore
from forwarder.checkpoints.guarded import LeaderGuardedCheckpoints
from forwarder.checkpoints.kubernetes import ConfigMapCheckpointStore
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.coordination.api import KubernetesConfigurationError
from forwarder.coordination.leader import LeaderElector, LeaseTimings
from forwarder.retry import Backoff
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.forwarder_runs import NOW, settings
from tests.unit.kubernetes_support import client, fake_api

MOMENT = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
FAST = Backoff(0.01, 0.05)


class RecordingStore(MemoryCheckpointStore):
    def __init__(self, failure: BaseException | None = None, hang: bool = False) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.failure = failure
        self.hang = hang
        self.opening = asyncio.Event()

    async def open(self) -> None:
        self.calls.append("open")
        self.opening.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.failure is not None:
            raise self.failure

    async def close(self) -> None:
        self.calls.append("close")


# -- the file store ------------------------------------------------------------------------------------


async def test_the_file_store_opens_an_empty_directory_and_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "checkpoints.json"
    store = FileCheckpointStore(path)
    await store.open()
    assert path.parent.is_dir()
    await store.commit("a/access_requests", MOMENT)
    await store.close()
    again = FileCheckpointStore(path)
    await again.open()
    assert await again.load("a/access_requests") == MOMENT
    await again.close()


async def test_a_corrupt_checkpoint_file_fails_at_open_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_text("{not json")
    with pytest.raises(CheckpointFileError, match=r"^FORWARDER_CHECKPOINT_PATH: cannot read checkpoints"):
        await FileCheckpointStore(path).open()


async def test_a_file_that_is_no_checkpoint_file_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    path.write_bytes(orjson.dumps({"a/access_requests": 17}))
    with pytest.raises(CheckpointFileError, match=r"^FORWARDER_CHECKPOINT_PATH: .* is not a checkpoint file"):
        await FileCheckpointStore(path).open()


async def test_a_read_only_directory_fails_at_open_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: stand in for the permission bits
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == directory else real(p, mode))
    try:
        with pytest.raises(
            CheckpointFileError, match=r"^FORWARDER_CHECKPOINT_PATH: directory .* is not writable"
        ):
            await FileCheckpointStore(directory / "checkpoints.json").open()
    finally:
        directory.chmod(0o755)


async def test_a_directory_that_cannot_be_created_fails_at_open_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CheckpointFileError, match=r"^FORWARDER_CHECKPOINT_PATH: "):
        await FileCheckpointStore(blocker / "state" / "checkpoints.json").open()


# -- the memory store and the defaults -------------------------------------------------------------------


async def test_the_memory_store_opens_and_closes_with_nothing_to_do() -> None:
    store = MemoryCheckpointStore()
    await store.open()
    await store.commit("a/access_requests", MOMENT)
    await store.close()
    assert store.positions == {"a/access_requests": MOMENT}


# -- the ConfigMap store and the leader-guarded one -----------------------------------------------------


async def test_the_config_map_store_fails_at_open_when_rbac_forbids_and_close_closes_its_client(
    tmp_path: Path,
) -> None:
    async with fake_api(forbidden={"token-a"}) as fake:
        api = client(fake, tmp_path)
        store = ConfigMapCheckpointStore(api, "forwarder-checkpoints", backoff=FAST)
        with pytest.raises(
            KubernetesConfigurationError, match=r"^FORWARDER_KUBERNETES_CONFIGMAP: cannot read"
        ):
            await store.open()
        assert not api._http.is_closed
        await store.close()
        assert api._http.is_closed


async def test_the_guarded_store_delegates_open_and_close(tmp_path: Path) -> None:
    async with fake_api() as fake:
        elector = LeaderElector(client(fake, tmp_path, "token-l"), "lease", "me", LeaseTimings(1, 0.6, 0.15))
        inner = RecordingStore()
        guarded = LeaderGuardedCheckpoints(inner, elector)
        await guarded.open()
        await guarded.close()
        assert inner.calls == ["open", "close"]
        # The elector's client is not the store's to close.
        assert not elector.api._http.is_closed
        await elector.api.close()


async def test_the_guarded_store_passes_on_a_failure_at_open(tmp_path: Path) -> None:
    async with fake_api(forbidden={"token-a"}) as fake:
        elector = LeaderElector(client(fake, tmp_path, "token-l"), "lease", "me", LeaseTimings(1, 0.6, 0.15))
        api = client(fake, tmp_path)
        guarded = LeaderGuardedCheckpoints(ConfigMapCheckpointStore(api, "cm", backoff=FAST), elector)
        with pytest.raises(KubernetesConfigurationError, match="FORWARDER_KUBERNETES_CONFIGMAP"):
            await guarded.open()
        await guarded.close()
        assert api._http.is_closed
        await elector.api.close()


# -- the runner only calls the contract -----------------------------------------------------------------


def build(tmp_path: Path, store: RecordingStore) -> Forwarder:
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(tmp_path / "events.ndjson"), fsync=False))
    # Nothing listens there: every test here ends before the first request.
    config = Config(settings("http://127.0.0.1:9", tmp_path, hours=1), (sink,))
    return Forwarder.build(config, Parts(checkpoints=store, now=NOW))


async def test_a_store_that_fails_to_open_stops_the_start_and_is_closed(tmp_path: Path) -> None:
    store = RecordingStore(failure=CheckpointFileError("FORWARDER_CHECKPOINT_PATH: broken"))
    with pytest.raises(CheckpointFileError, match="broken"):
        await build(tmp_path, store).run(until_caught_up=True)
    assert store.calls == ["open", "close"]


async def test_a_stop_while_the_store_opens_ends_the_run_and_closes_it(tmp_path: Path) -> None:
    store = RecordingStore(hang=True)
    stop = asyncio.Event()
    run = asyncio.create_task(build(tmp_path, store).run(until_caught_up=False, stop=stop))
    await asyncio.wait_for(store.opening.wait(), 5)
    assert store.calls == ["open"]
    stop.set()
    await asyncio.wait_for(run, 5)
    assert store.calls == ["open", "close"]


def test_the_runner_names_no_concrete_store_and_checks_no_store_type() -> None:
    source = Path(forwarder.app.__file__).read_text()
    for name in (
        "FileCheckpointStore",
        "ConfigMapCheckpointStore",
        "MemoryCheckpointStore",
        "check_writable",
    ):
        assert name not in source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            assert "Checkpoint" not in ast.unparse(node)
        if isinstance(node, ast.Attribute):
            assert node.attr != "inner"
