"""What the two Azure fakes (Entra ID, Azure Monitor Logs Ingestion) share: faults on demand, one per
request in the order queued, and serving an aiohttp application on 127.0.0.1 (http or https)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class CannedAnswer:
    """Answer with this instead of handling the request (nothing is accepted)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reset:
    """Drop the connection without an answer, before or after the request took effect."""

    after_accepting: bool = False


@dataclass(frozen=True)
class Slow:
    """Wait this long before handling the request normally: a slow service, for client timeouts."""

    seconds: float


@dataclass(frozen=True)
class Normal:
    """No fault for this request: lets a test aim a fault at a later request."""


Fault = CannedAnswer | Reset | Slow | Normal


def azure_error(status: int, code: str, message: str, retry_after: str | None = None) -> CannedAnswer:
    """An answer in the Azure REST error shape: `{"error": {"code", "message"}}` and `x-ms-error-code`."""
    headers = {"Content-Type": "application/json", "x-ms-error-code": code}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return CannedAnswer(status, json.dumps({"error": {"code": code, "message": message}}).encode(), headers)


def throttled(retry_after: str = "1") -> CannedAnswer:
    return azure_error(
        429, "TooManyRequests", "Request rate is too high; retry after the Retry-After delay.", retry_after
    )


def unavailable(retry_after: str = "1") -> CannedAnswer:
    return azure_error(503, "ServiceUnavailable", "The service is temporarily unavailable.", retry_after)


def internal_error() -> CannedAnswer:
    return azure_error(500, "InternalServerError", "An internal error occurred.")


def answer(canned: CannedAnswer) -> web.Response:
    return web.Response(status=canned.status, body=canned.body, headers=dict(canned.headers))


async def apply_before(fault: Fault | None, request: web.Request) -> web.StreamResponse | None:
    """The answer a fault gives before the request is handled, or None to handle it."""
    if isinstance(fault, Slow):
        await asyncio.sleep(fault.seconds)
    elif isinstance(fault, CannedAnswer):
        return answer(fault)
    elif isinstance(fault, Reset) and not fault.after_accepting:
        return reset(request)
    return None


def reset(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # The client sees the connection drop; aiohttp does not write to an aborted transport.
    return web.Response(status=500)


@asynccontextmanager
async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """Serve `app` on a free port of 127.0.0.1 and yield its base URL."""
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, auto_decompress=False, shutdown_timeout=0.1
    )
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
