"""A protocol-faithful Splunk HTTP Event Collector on 127.0.0.1, with faults on demand.

What it does the way Splunk does (Splunk docs: "Format events for HTTP Event Collector",
"Troubleshoot HTTP Event Collector", "About HTTP Event Collector Indexer Acknowledgment"):

* ``Authorization: Splunk <token>``: no header is code 2, another scheme code 3, an unknown token
  code 4, a disabled one code 1, a token in the query string code 16.
* ``/services/collector/event`` (and ``/services/collector``, ``.../event/1.0``): the body is event
  objects back to back with optional whitespace between them, gzip if ``Content-Encoding: gzip``.
  Events are read in order; the first bad one stops the request: the events before it are
  indexed, the ones after it are not, and the answer names it with ``invalid-event-number``
  (code 6 not JSON / not an object / bad time, 7 index not allowed for the token, 12 no ``event``,
  13 blank ``event``, 15 ``fields`` not flat). An empty body is code 5.
* A token with ``use_ack`` needs a channel (``X-Splunk-Request-Channel`` or ``?channel=``; code 10
  without, 11 if not a GUID); each accepted request gets ``ackId`` N, counting from 0 per
  channel. ``POST /services/collector/ack`` with ``{"acks": [...]}`` answers
  ``{"acks": {"N": true|false}}`` and forgets an id once it has answered true. Without
  ``use_ack`` the ack endpoint answers code 14.
* ``/services/collector/health``: code 17, or 18 when made unhealthy; with a token header, code
  21 for an unknown token and 22 for a disabled one.
* Requests larger than ``max_content_length`` (on the wire) get 413.

Faults, queued per event request with :meth:`FakeHec.inject`: any canned answer (busy, 500, a
proxy's 429/502/504), a 413, a connection reset before or after indexing; ack delays (an ack
reads false for a number of queries) and lost acks (never true; optionally the events were never
indexed either, the failure indexer acknowledgement exists for).

This module is the server (requests, channels, acks, health, faults); :mod:`fakes.splunk_hec_events`
holds the format of event requests and HEC's answers, :mod:`fakes.splunk_hec_faults` the faults.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes.splunk_hec_events import (
    HecToken,
    Refusal,
    event_count,
    hec_response,
    parse_events,
    refusal_answer,
)
from fakes.splunk_hec_faults import (
    CannedAnswer,
    Fault,
    Normal,
    Reset,
    busy,
    hec_answer,
    internal_error,
    proxy_answer,
    queues_full,
    too_large,
)

__all__ = [
    "CannedAnswer",
    "FakeHec",
    "Fault",
    "HecToken",
    "IndexedEvent",
    "Normal",
    "ReceivedRequest",
    "Reset",
    "busy",
    "hec_answer",
    "internal_error",
    "proxy_answer",
    "queues_full",
    "too_large",
]

EVENT_PATHS = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
ACK_PATHS = ("/services/collector/ack", "/services/collector/ack/1.0")
HEALTH_PATHS = ("/services/collector/health", "/services/collector/health/1.0")


@dataclass(frozen=True)
class IndexedEvent:
    """One event as Splunk would have indexed it."""

    envelope: Mapping[str, Any]
    index: str
    request_number: int

    @property
    def event(self) -> Any:
        return self.envelope.get("event")


@dataclass(frozen=True)
class ReceivedRequest:
    number: int
    method: str
    path: str
    headers: Mapping[str, str]
    # As on the wire, and after gzip decoding.
    raw_body: bytes
    body: bytes
    # Wall-clock time the request arrived, and (event requests) when its answer left.
    received_at: float = 0.0
    answered_at: list[float] = field(default_factory=list)


@dataclass
class _Channel:
    next_ack_id: int = 0
    # ack id -> ack queries still to answer false; None: never true (lost).
    pending: dict[int, int | None] = field(default_factory=dict)


class FakeHec:
    def __init__(
        self, tokens: list[HecToken], max_content_length: int = 800 * 1024 * 1024, keep: bool = True
    ) -> None:
        self.tokens = {token.value: token for token in tokens}
        self.max_content_length = max_content_length
        # False for benchmarks: count events and requests instead of keeping them in memory.
        self.keep = keep
        self.indexed_count = 0
        self.request_count = 0
        self.indexed: list[IndexedEvent] = []
        self.requests: list[ReceivedRequest] = []
        self.faults: list[Fault] = []
        # Events for which the fake answers code 6 as if they were malformed: a poison event
        # that a real Splunk would refuse, chosen by the test.
        self.refuse: Callable[[Mapping[str, Any]], bool] = lambda envelope: False
        self.ack_delay_queries = 0
        # Seconds every event request waits before it is handled.
        self.answer_delay = 0.0
        self.acks_to_lose = 0
        # Ack ids (of any channel) that never read true.
        self.lost_ack_ids: set[int] = set()
        self.lost_acks_drop_events = False
        self.unhealthy_code: int | None = None
        # Older Splunk versions name no event in a refusal; the sink must then find it itself.
        self.omit_invalid_event_number = False
        self.in_flight = 0
        self.max_in_flight = 0
        self.ack_queries = 0
        self.channels: dict[str, _Channel] = {}
        self.url = ""

    # --- what tests look at -------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next event requests."""
        self.faults.extend(faults)

    def lose_next_acks(self, count: int, *, drop_events: bool = False) -> None:
        """The next ``count`` ack ids never read true; with ``drop_events`` nothing was indexed."""
        self.acks_to_lose = count
        self.lost_acks_drop_events = drop_events

    def lose_acks(self, *ack_ids: int, drop_events: bool = False) -> None:
        """These ack ids never read true; with ``drop_events`` their events were never indexed."""
        self.lost_ack_ids.update(ack_ids)
        self.lost_acks_drop_events = drop_events

    def counts(self, key: Callable[[IndexedEvent], Any]) -> Counter[Any]:
        return Counter(key(event) for event in self.indexed)

    @property
    def event_requests(self) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.path in EVENT_PATHS]

    # --- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_content_length + 1024)
        for path in EVENT_PATHS:
            app.router.add_post(path, self._event)
        for path in ACK_PATHS:
            app.router.add_post(path, self._ack)
        for path in HEALTH_PATHS:
            app.router.add_get(path, self._health)
        return app

    @asynccontextmanager
    async def serve(self, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[FakeHec]:
        # The fake decodes gzip itself, to see the bytes the sink put on the wire.
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, auto_decompress=False, shutdown_timeout=0.1
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        site = web.SockSite(runner, sock, ssl_context=ssl_context)
        await site.start()
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()

    # --- handlers -----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> ReceivedRequest:
        raw = await request.read()
        body = raw
        if request.headers.get("Content-Encoding", "").lower() == "gzip" and raw:
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error):
                body = b"\x00not gzip"
        received = ReceivedRequest(
            self.request_count, request.method, request.path, dict(request.headers), raw, body, time.time()
        )
        self.request_count += 1
        if self.keep:
            self.requests.append(received)
        return received

    def _token(self, request: web.Request) -> HecToken:
        header = request.headers.get("Authorization")
        if header is None:
            if "token" in request.query:
                raise Refusal(16, "Query string authorization is not enabled")
            raise Refusal(2, "Token is required")
        scheme, _, value = header.partition(" ")
        if scheme != "Splunk" or not value:
            raise Refusal(3, "Invalid authorization")
        token = self.tokens.get(value)
        if token is None:
            raise Refusal(4, "Invalid token")
        if not token.enabled:
            raise Refusal(1, "Token disabled")
        return token

    def _channel(self, request: web.Request, token: HecToken) -> _Channel | None:
        if not token.use_ack:
            return None
        name = request.headers.get("X-Splunk-Request-Channel") or request.query.get("channel")
        if not name:
            raise Refusal(10, "Data channel is missing")
        try:
            uuid.UUID(name)
        except ValueError:
            raise Refusal(11, "Invalid data channel") from None
        return self.channels.setdefault(name, _Channel())

    async def _event(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.answer_delay:
                # A slow indexer: the events are taken only after the wait.
                await asyncio.sleep(self.answer_delay)
            return await self._handle_event(request)
        finally:
            self.in_flight -= 1
            if self.requests and self.keep:
                self.requests[-1].answered_at.append(time.time())

    async def _handle_event(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        # Let concurrent requests overlap, as a real receiver's would.
        await asyncio.sleep(0)
        fault = self.faults[0] if self.faults else None
        if isinstance(fault, CannedAnswer) and fault.multi_event_only and event_count(received.body) < 2:
            fault = None
        elif fault is not None:
            self.faults.pop(0)
        if isinstance(fault, CannedAnswer):
            return web.Response(status=fault.status, body=fault.body, headers=dict(fault.headers))
        if isinstance(fault, Reset) and not fault.after_indexing:
            return await _reset(request)
        if len(received.raw_body) > self.max_content_length:
            return web.Response(
                status=413,
                text=f"Content-Length of {len(received.raw_body)} too large "
                f"(maximum is {self.max_content_length})",
            )
        try:
            token = self._token(request)
            channel = self._channel(request, token)
        except Refusal as auth_refusal:
            return refusal_answer(auth_refusal)
        if not received.body.strip():
            return hec_response(400, 5, "No data")

        events, refusal, bad_number = parse_events(received.body, token, self.refuse)
        drop = False
        ack_id = None
        if refusal is None and channel is not None:
            ack_id = channel.next_ack_id
            channel.next_ack_id += 1
            lost = self.acks_to_lose > 0 or ack_id in self.lost_ack_ids
            if lost:
                self.acks_to_lose = max(self.acks_to_lose - 1, 0)
                drop = self.lost_acks_drop_events
            channel.pending[ack_id] = None if lost else self.ack_delay_queries
        if not drop:
            # The events before a bad one are indexed even though the request is refused.
            self.indexed_count += len(events)
            if self.keep:
                self.indexed.extend(
                    IndexedEvent(envelope, index, received.number) for envelope, index in events
                )
        if isinstance(fault, Reset):
            return await _reset(request)
        if refusal is not None:
            if self.omit_invalid_event_number:
                return hec_response(400, refusal.code, refusal.text)
            return hec_response(400, refusal.code, refusal.text, **{"invalid-event-number": bad_number})
        if ack_id is not None:
            return hec_response(200, 0, "Success", ackId=ack_id)
        return hec_response(200, 0, "Success")

    async def _ack(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        try:
            token = self._token(request)
            if not token.use_ack:
                raise Refusal(14, "ACK is disabled")
            channel = self._channel(request, token)
        except Refusal as refusal:
            return refusal_answer(refusal)
        assert channel is not None
        try:
            query = json.loads(received.body)
            ack_ids = query["acks"]
            if not isinstance(ack_ids, list) or not all(isinstance(ack_id, int) for ack_id in ack_ids):
                raise ValueError("acks must be a list of numbers")
        except (ValueError, KeyError, TypeError):
            return hec_response(400, 6, "Invalid data format")
        self.ack_queries += 1
        statuses: dict[str, bool] = {}
        for ack_id in ack_ids:
            remaining = channel.pending.get(ack_id)
            if ack_id not in channel.pending or remaining is None:
                statuses[str(ack_id)] = False
            elif remaining > 0:
                channel.pending[ack_id] = remaining - 1
                statuses[str(ack_id)] = False
            else:
                # Splunk answers true once, then forgets the id.
                del channel.pending[ack_id]
                statuses[str(ack_id)] = True
        return web.json_response({"acks": statuses})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if "Authorization" in request.headers:
            try:
                self._token(request)
            except Refusal as refusal:
                if refusal.code == 1:
                    return hec_response(400, 22, "Token disabled")
                return hec_response(400, 21, "Invalid token")
        if self.unhealthy_code is not None:
            texts = {
                18: "HEC is unhealthy, queues are full",
                19: "HEC is unhealthy, ack service unavailable",
                20: "HEC is unhealthy, queues are full, ack service unavailable",
            }
            return hec_response(503, self.unhealthy_code, texts[self.unhealthy_code])
        return hec_response(200, 17, "HEC is healthy")


async def _reset(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # The client sees the connection drop; aiohttp does not write to an aborted transport.
    return web.Response(status=500)
