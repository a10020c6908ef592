"""Helpers for tests of files the forwarder creates: their permission bits, and the worst umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


def permissions(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The worst umask a container may run with: without care, everything is world-readable."""
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)
