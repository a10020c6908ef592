"""The HTTP endpoints: ``/healthz``, ``/readyz``, ``/status`` and ``/metrics``.

They are served by threads of their own (the standard library's HTTP request handler, one thread per
connection), never by the forwarding loop: a scrape or a probe never waits for it, and when that loop
is stuck ``/healthz`` can still answer 503 and say so (a heartbeat task on the forwarding loop stops
beating). ``/status`` and ``/metrics`` stay readable too, which is when an operator needs them most.

Not aiohttp: importing its server costs 0.13 CPU-s (it builds its client's TLS contexts at import),
half of what a `once` with nothing to do costs otherwise (benchmarks/STARTUP_RESULTS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from forwarder.telemetry.status import HEARTBEAT_INTERVAL, ForwarderView, StatusBoard

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from prometheus_client import CollectorRegistry

    from forwarder.telemetry.providers import Telemetry


log = logging.getLogger(__name__)

# A client that opens a connection and sends nothing holds one thread this long, no longer.
REQUEST_TIMEOUT = 30.0
# How often the accepting thread looks whether it should stop, where closing the socket does not wake it.
ACCEPT_POLL = 0.5
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def text(status: int, lines: list[str]) -> Reply:
    return Reply(status, TEXT, ("\n".join(lines) + "\n").encode())


class _Listener(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], family: socket.AddressFamily, endpoints: HealthServer
    ) -> None:
        self.address_family = family
        self.endpoints = endpoints
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """One connection: GET or HEAD of an endpoint; HTTP/1.0, so the connection closes after the answer."""

    server: _Listener
    timeout = REQUEST_TIMEOUT

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse(self) -> None:
        self._send(Reply(405, TEXT, b"405: Method Not Allowed\n"), body=True, allow="GET, HEAD")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse

    def _answer(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            reply = self.server.endpoints.answer(path, self.headers.get("Accept", ""))
        except Exception:  # a bug in what an endpoint reads: logged, answered, the server goes on
            log.exception("health endpoint failed", extra={"path": path})
            reply = text(500, ["500: Internal Server Error"])
        self._send(reply, body=body)

    def _send(self, reply: Reply, *, body: bool, allow: str = "") -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        if body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes every few seconds would drown the log in access lines; errors go to debug.
        log.debug("health endpoint: " + format, *args)


class HealthServer:
    """The endpoints for one forwarder; ``port`` 0 takes any free port (see :attr:`port`)."""

    def __init__(
        self, board: StatusBoard, *, host: str, port: int, registry: CollectorRegistry | None = None
    ) -> None:
        self.board = board
        self.host = host
        self.requested_port = port
        self.registry = registry
        self.port: int | None = None
        self._listener: _Listener | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # One answer at a time, as the single event loop of before gave: the board is read by one thread.
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken or not ours."""
        self._listener = await asyncio.to_thread(self._listen)
        self.port = int(self._listener.server_address[1])
        self._thread = threading.Thread(target=self._accept, name="health-endpoints", daemon=True)
        self._thread.start()

    def _listen(self) -> _Listener:
        # The address's own family: "::" (or an IPv6 address) listens on IPv6, anything else on IPv4.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = _Listener((self.host, self.requested_port), family, self)
        listener.socket.settimeout(ACCEPT_POLL)
        return listener

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                connection, address = self._listener.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the socket was shut down by stop()
            # A thread per connection: a slow client never delays a probe.
            self._listener.process_request(connection, address)

    async def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        # Wakes the accepting thread at once where the platform allows (Linux); otherwise it sees the
        # flag within ACCEPT_POLL seconds.
        with contextlib.suppress(OSError):
            listener.socket.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        listener.server_close()

    def answer(self, path: str, accept: str) -> Reply:
        """What an endpoint answers a GET of ``path``; called on the connection's thread."""
        with self._lock:
            if path == "/healthz":
                return self.healthz()
            if path == "/readyz":
                return self.readyz()
            if path == "/status":
                return self.status()
            if path == "/metrics":
                return self.metrics(accept)
        return text(404, ["404: Not Found"])

    def healthz(self) -> Reply:
        problems = self.board.liveness()
        return text(503, problems) if problems else text(200, ["ok"])

    def readyz(self) -> Reply:
        problems = self.board.readiness()
        return (
            text(503, ["not ready:", *(f"- {problem}" for problem in problems)])
            if problems
            else text(200, ["ready"])
        )

    def status(self) -> Reply:
        return Reply(200, "application/json", orjson.dumps(self.board.snapshot(), option=orjson.OPT_INDENT_2))

    def metrics(self, accept: str) -> Reply:
        if self.registry is None:
            return text(404, ["metrics are not collected in this process"])
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        return Reply(200, content_type, encoder(self.registry))


async def heartbeat(board: StatusBoard) -> None:
    while True:
        board.beat()
        await asyncio.sleep(HEARTBEAT_INTERVAL)


@contextlib.asynccontextmanager
async def serve_endpoints(
    forwarder: ForwarderView, telemetry: Telemetry, *, host: str, port: int
) -> AsyncIterator[HealthServer | None]:
    """The endpoints and the heartbeat for as long as the block runs.

    An address that cannot be used is logged as an error and forwarding goes on without the
    endpoints: events matter more than probes, and a failing probe makes the problem visible.
    """
    board = StatusBoard(forwarder)
    server = HealthServer(board, host=host, port=port, registry=telemetry.prometheus_registry)
    try:
        await server.start()
    except OSError as error:
        log.error(
            "cannot serve the health and metrics endpoints; forwarding without them",
            extra={"address": f"{host}:{port}", "reason": str(error)},
        )
        yield None
        return
    beating = asyncio.create_task(heartbeat(board), name="heartbeat")
    log.info("serving /healthz, /readyz, /status and /metrics", extra={"address": f"{host}:{server.port}"})
    try:
        yield server
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        await server.stop()
