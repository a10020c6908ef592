"""The HTTP endpoints: ``/healthz``, ``/readyz``, ``/status`` and ``/metrics``.

They are served by aiohttp on an event loop of their own, in a thread: a scrape or a probe never
waits for the forwarding loop, and when that loop is stuck ``/healthz`` can still answer 503 and
say so (a heartbeat task on the forwarding loop stops beating). ``/status`` and ``/metrics``
stay readable too, which is when an operator needs them most.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from forwarder.telemetry.status import HEARTBEAT_INTERVAL, ForwarderView, StatusBoard

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from forwarder.telemetry.providers import Telemetry

log = logging.getLogger(__name__)


def text(status: int, lines: list[str]) -> web.Response:
    return web.Response(status=status, text="\n".join(lines) + "\n", content_type="text/plain")


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
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="health-endpoints", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken or not ours."""
        self._thread.start()
        try:
            await self._in_thread(self._start)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            await self._in_thread(self._runner.cleanup)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._loop.close()

    async def _in_thread(self, function: Callable[[], Any]) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(function(), self._loop))

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/status", self.status)
        app.router.add_get("/metrics", self.metrics)
        # Probes every few seconds would drown the log in access lines.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def healthz(self, request: web.Request) -> web.Response:
        problems = self.board.liveness()
        return text(503, problems) if problems else text(200, ["ok"])

    async def readyz(self, request: web.Request) -> web.Response:
        problems = self.board.readiness()
        return (
            text(503, ["not ready:", *(f"- {problem}" for problem in problems)])
            if problems
            else text(200, ["ready"])
        )

    async def status(self, request: web.Request) -> web.Response:
        body = orjson.dumps(self.board.snapshot(), option=orjson.OPT_INDENT_2)
        return web.Response(body=body, content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        if self.registry is None:
            return text(404, ["metrics are not collected in this process"])
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(self.registry)
        media_type, _, parameters = content_type.partition(";")
        response = web.Response(body=body)
        # aiohttp wants the charset apart from the media type.
        response.headers["Content-Type"] = f"{media_type.strip()};{parameters}" if parameters else media_type
        return response


async def heartbeat(board: StatusBoard) -> None:
    while True:
        board.beat()
        await asyncio.sleep(HEARTBEAT_INTERVAL)


@asynccontextmanager
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
