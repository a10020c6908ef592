"""Checkpoint stores, chosen by FORWARDER_CHECKPOINT_STORE."""

from __future__ import annotations

from forwarder.checkpoints.base import CheckpointStore
from forwarder.checkpoints.file import FileCheckpointStore
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Settings


def checkpoint_store(settings: Settings) -> CheckpointStore:
    if settings.checkpoint_store == "memory":
        return MemoryCheckpointStore()
    return FileCheckpointStore(settings.checkpoint_path)


__all__ = ["CheckpointStore", "FileCheckpointStore", "MemoryCheckpointStore", "checkpoint_store"]
