"""Checkpoint stores, chosen by FORWARDER_CHECKPOINT_STORE."""

from __future__ import annotations

from forwarder.checkpoints.base import CheckpointStore
from forwarder.checkpoints.file import FileCheckpointStore
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Settings


def checkpoint_store(settings: Settings) -> CheckpointStore:
    if settings.checkpoint_store == "memory":
        return MemoryCheckpointStore()
    if settings.checkpoint_store == "kubernetes":
        from forwarder.checkpoints.kubernetes import ConfigMapCheckpointStore
        from forwarder.coordination import kubernetes_api
        from forwarder.retry import Backoff

        return ConfigMapCheckpointStore(
            kubernetes_api(settings),
            settings.kubernetes_configmap,
            backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
        )
    return FileCheckpointStore(settings.checkpoint_path)


__all__ = ["CheckpointStore", "FileCheckpointStore", "MemoryCheckpointStore", "checkpoint_store"]
