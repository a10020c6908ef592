"""Faults the HTTP intake fakes (OTLP collector, generic HTTP intake) inject on demand, one per request,
in the order they are queued: canned answers (a busy receiver, a proxy's page), resets before or after
the events were taken, and slow answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class CannedAnswer:
    """Answer with this instead of processing the request (nothing is taken)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    # Given only to a request of more than one event, waiting in the queue otherwise: a real 413
    # never refuses a body that fits, and a single small event always does.
    multi_event_only: bool = False


@dataclass(frozen=True)
class Reset:
    """Drop the connection without an answer, before or after taking the events."""

    after_taking: bool = False


@dataclass(frozen=True)
class Slow:
    """Answer after ``seconds`` (the events are taken after the wait): a client timeout's cause."""

    seconds: float


@dataclass(frozen=True)
class Normal:
    """No fault for this request: lets a test aim a fault at a later request."""


Fault = CannedAnswer | Reset | Slow | Normal


def proxy_answer(status: int, retry_after: str | None = None) -> CannedAnswer:
    """What a load balancer or proxy in front of the receiver answers: an HTML page."""
    headers = {"Content-Type": "text/html"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = f"<html><body><h1>{status}</h1>proxy says no</body></html>".encode()
    return CannedAnswer(status, body, headers)


def too_large() -> CannedAnswer:
    return CannedAnswer(
        413, b"<html><body><h1>413 Request Entity Too Large</h1></body></html>", multi_event_only=True
    )


class FaultQueue:
    """The queued faults; the next one a request of ``events`` events gets (a 413 waits for a request
    of more than one event)."""

    def __init__(self) -> None:
        self.waiting: list[Fault] = []

    def add(self, *faults: Fault) -> None:
        self.waiting.extend(faults)

    def next_for(self, events: int) -> Fault | None:
        fault = self.waiting[0] if self.waiting else None
        if isinstance(fault, CannedAnswer) and fault.multi_event_only and events < 2:
            return None
        if fault is not None:
            self.waiting.pop(0)
        return fault


def canned(fault: CannedAnswer) -> web.Response:
    return web.Response(status=fault.status, body=fault.body, headers=dict(fault.headers))


async def reset(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # The client sees the connection drop; aiohttp does not write to an aborted transport.
    return web.Response(status=500)
