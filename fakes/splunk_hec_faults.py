"""Faults the fake HEC injects on demand, one per event request, in the order they are queued."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CannedAnswer:
    """Answer with this instead of processing the request (nothing is indexed)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    # Given only to a request of more than one event, waiting in the queue otherwise: a real 413
    # never refuses a body that fits, and a single small event always does.
    multi_event_only: bool = False


@dataclass(frozen=True)
class Reset:
    """Drop the connection without an answer, before or after indexing the events."""

    after_indexing: bool = False


@dataclass(frozen=True)
class Normal:
    """No fault for this request: lets a test aim a fault at a later request."""


Fault = CannedAnswer | Reset | Normal


def hec_answer(status: int, code: int, text: str, **extra: Any) -> CannedAnswer:
    return CannedAnswer(status, json.dumps({"text": text, "code": code, **extra}).encode())


def busy() -> CannedAnswer:
    return hec_answer(503, 9, "Server is busy")


def internal_error() -> CannedAnswer:
    return hec_answer(500, 8, "Internal server error")


def queues_full() -> CannedAnswer:
    return hec_answer(503, 18, "HEC is unhealthy, queues are full")


def proxy_answer(status: int, retry_after: str | None = None) -> CannedAnswer:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = f"<html><body><h1>{status}</h1>proxy says no</body></html>".encode()
    return CannedAnswer(status, body, headers)


def too_large() -> CannedAnswer:
    return CannedAnswer(413, b"Content-Length too large", multi_event_only=True)
