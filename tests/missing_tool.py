"""What a test does when a real tool it needs (rsyslog, syslog-ng, helm, podman, ...) is missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(message: str) -> NoReturn:
    """Fail in CI (a missing tool there is a broken pipeline), skip on a developer's machine."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
