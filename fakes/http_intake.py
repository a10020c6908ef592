"""A protocol-faithful HTTP log intake on 127.0.0.1, with faults: it behaves like Datadog's logs intake
v2, a Sumo Logic HTTP source, Logstash's ``http`` input or Vector's ``http_server`` source, as their
documentation describes them (docs/sinks/http.md cites each):

* ``datadog``: ``POST /api/v2/logs`` with ``DD-API-KEY`` (missing: 401, unknown: 403), a JSON array or
  one object, at most 5 MB uncompressed (413) and 1000 entries (413; the documentation names the
  limit, not the answer), entries over 1 MB *truncated* and accepted; 202 ``{}``.
* ``sumo_logic``: ``POST`` to the source's secret URL ``/receiver/v1/http/<token>`` (another token:
  401), one message per line, at most 1 MB uncompressed (413); 200 with an empty body.
* ``logstash``: any path, ``application/json`` (an array is one event per element), optional HTTP
  Basic (401 with ``WWW-Authenticate``), 200 ``ok``; a backlogged Logstash answers 429 (a fault).
* ``vector``: newline-delimited JSON (``decoding.codec = "json"``, ``framing.method =
  "newline_delimited"``), optional Basic auth, 200.

A body that is not what the intake parses is 400, and nothing of it is kept (Datadog and Logstash parse
the whole body before taking any of it). Faults (``fakes.http_faults``) are queued per request with
:meth:`FakeIntake.inject`; ``refuse`` makes the intake answer 400 to any request holding a poison event.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from fakes.http_faults import (
    CannedAnswer,
    Fault,
    FaultQueue,
    Normal,
    Reset,
    Slow,
    canned,
    proxy_answer,
    reset,
    too_large,
)
from fakes.serving import serve_app

__all__ = [
    "CannedAnswer",
    "FakeIntake",
    "Fault",
    "Flavor",
    "Normal",
    "Reset",
    "Slow",
    "busy",
    "proxy_answer",
    "too_large",
]

Flavor = Literal["datadog", "sumo_logic", "logstash", "vector"]
DATADOG_PATH = "/api/v2/logs"
SUMO_PATH = "/receiver/v1/http/"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Limits:
    max_body: int | None = None
    max_entries: int | None = None
    truncate_entry_above: int | None = None


LIMITS: Mapping[Flavor, Limits] = {
    "datadog": Limits(max_body=5 * MEGABYTE, max_entries=1000, truncate_entry_above=MEGABYTE),
    "sumo_logic": Limits(max_body=MEGABYTE),
    "logstash": Limits(max_body=100 * 1024 * 1024),
    "vector": Limits(),
}


def busy(retry_after: str | None = None) -> CannedAnswer:
    """What Logstash answers when backlogged, Datadog and Sumo Logic when throttling: 429."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return CannedAnswer(429, b"Too Many Requests", headers)


@dataclass(frozen=True)
class ReceivedRequest:
    number: int
    path: str
    headers: Mapping[str, str]
    # As on the wire, and after gzip decoding.
    raw_body: bytes
    body: bytes
    events: int = 0


@dataclass
class FakeIntake:
    flavor: Flavor
    # Datadog's API key, Sumo Logic's URL token; Logstash and Vector: Basic (user, password) if set.
    key: str = "intake-key-0001"
    basic: tuple[str, str] | None = None
    received: list[Any] = field(default_factory=list)
    truncated: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    faults: FaultQueue = field(default_factory=FaultQueue)
    refuse: Callable[[Any], bool] = lambda event: False
    url: str = ""
    _runner: web.AppRunner | None = None
    _port: int = 0

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next requests."""
        self.faults.add(*faults)

    def ids(self) -> Counter[str]:
        """How often each event arrived, by the forwarder's event id (``_forwarder.event_id`` of raw)."""
        return Counter(str(event.get("_forwarder", {}).get("event_id")) for event in self.received)

    @property
    def endpoint(self) -> str:
        """Where a client posts: the path this flavour serves."""
        if self.flavor == "datadog":
            return f"{self.url}{DATADOG_PATH}"
        if self.flavor == "sumo_logic":
            return f"{self.url}{SUMO_PATH}{self.key}"
        return f"{self.url}/"

    async def start(self) -> str:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner, self._port = await serve_app(
            app, port=self._port, auto_decompress=False, shutdown_timeout=0.1
        )
        self.url = f"http://127.0.0.1:{self._port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeIntake]:
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    # --- the intake ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = _decompressed(raw) if request.headers.get("Content-Encoding", "").lower() == "gzip" else raw
        events = self._parse(body, request.headers.get("Content-Type", "")) if body is not None else None
        count = len(events) if events is not None else 0
        number = len(self.requests)
        self.requests.append(
            ReceivedRequest(number, request.path, dict(request.headers), raw, body or b"", count)
        )
        await asyncio.sleep(0)
        fault = self.faults.next_for(count)
        if isinstance(fault, CannedAnswer):
            return canned(fault)
        if isinstance(fault, Reset) and not fault.after_taking:
            return await reset(request)
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.seconds)
        refusal = self._refusal(request, len(body) if body is not None else len(raw))
        if refusal is not None:
            return refusal
        if events is None or any(self.refuse(event) for event in events):
            return web.Response(status=400, text="Bad Request: the payload could not be parsed")
        if LIMITS[self.flavor].max_entries is not None and count > (LIMITS[self.flavor].max_entries or 0):
            return web.Response(status=413, text="Payload Too Large: too many entries")
        self._take(events)
        if isinstance(fault, Reset):
            return await reset(request)
        return self._success()

    def _refusal(self, request: web.Request, size: int) -> web.Response | None:
        if self.flavor == "datadog":
            if request.path != DATADOG_PATH:
                return web.Response(status=404, text="Not Found")
            key = request.headers.get("DD-API-KEY")
            if key is None:
                return web.json_response({"errors": ["Unauthorized"]}, status=401)
            if key != self.key:
                return web.json_response({"errors": ["Forbidden"]}, status=403)
        elif self.flavor == "sumo_logic":
            if not request.path.startswith(SUMO_PATH) or request.path.removeprefix(SUMO_PATH) != self.key:
                return web.Response(status=401, text="Unauthorized")
        elif self.basic is not None and request.headers.get("Authorization") != _basic(*self.basic):
            return web.Response(
                status=401, text="Unauthorized", headers={"WWW-Authenticate": 'Basic realm="intake"'}
            )
        limit = LIMITS[self.flavor].max_body
        if limit is not None and size > limit:
            return web.Response(status=413, text="Payload Too Large")
        return None

    def _parse(self, body: bytes, content_type: str) -> list[Any] | None:
        """The events of ``body`` as this intake reads them; None when it cannot read them all."""
        try:
            if self.flavor in ("datadog", "logstash") and content_type.startswith("application/json"):
                document = json.loads(body)
                return document if isinstance(document, list) else [document]
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        except (ValueError, UnicodeDecodeError):
            return None

    def _take(self, events: list[Any]) -> None:
        limit = LIMITS[self.flavor].truncate_entry_above
        for event in events:
            if limit is not None and len(json.dumps(event)) > limit:
                # Datadog keeps the first megabyte and answers 2xx: the event is no longer whole.
                self.truncated += 1
            self.received.append(event)

    def _success(self) -> web.Response:
        if self.flavor == "datadog":
            return web.json_response({}, status=202)
        if self.flavor == "logstash":
            return web.Response(status=200, text="ok")
        return web.Response(status=200)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _decompressed(raw: bytes) -> bytes | None:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return None
