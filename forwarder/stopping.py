"""How the process is told to stop: the signal handlers, and running a step unless a stop comes first.

The first SIGTERM or SIGINT sets the stop event (deliver and commit what is in flight, within the
grace period); a second one cancels the main task at once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


async def until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` is set first; then cancel it and say False."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


def install_signal_handlers(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    """The first SIGTERM/SIGINT stops gracefully (flush, commit); a second one stops at once."""
    loop = asyncio.get_running_loop()

    def handle() -> None:
        if stop.is_set():
            task.cancel()
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, handle)
