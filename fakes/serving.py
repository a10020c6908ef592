"""Serve an aiohttp application on a local port: the start-up every fake shares."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve_app(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 60.0,
    auto_decompress: bool = True,
) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns its runner (``cleanup()`` stops it) and the port it got.

    ``port`` 0 takes a free port; a fake that keeps the port it got serves on the same one after
    an outage, as a restarted server would. A fake that wants the body bytes as sent passes
    ``auto_decompress=False``; one whose handlers may hang (slow answers, partitions) passes a short
    ``shutdown_timeout`` so that stopping does not wait for them.
    """
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=shutdown_timeout, auto_decompress=auto_decompress
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])
