"""The one way to run an asyncio fake server on its own loop in a background thread.

For synchronous code and for tests that run the forwarder as a subprocess: the Cloudflare simulator
(``fakes.cloudflare.SimulatorThread`` is this runner with a few shortcuts), Splunk HEC,
Elasticsearch and the Kubernetes API all run through :class:`ThreadedFake`.

The fake's state belongs to its loop; :meth:`ThreadedFake.call` runs a function there, so a
test's thread never races the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

T = TypeVar("T")
F = TypeVar("F")


class ThreadedFake(Generic[F]):
    """``with ThreadedFake(fake, Fake.start, Fake.close) as running: ... running.call(lambda fake: ...)``.

    ``start`` and ``stop`` are the fake's own coroutines (called with the fake); what ``start``
    returns is kept as :attr:`started` (the simulator returns its base URL).
    """

    def __init__(
        self,
        fake: F,
        start: Callable[[F], Awaitable[Any]],
        stop: Callable[[F], Awaitable[Any]],
        *,
        name: str = "fake-server",
    ) -> None:
        self.fake = fake
        self.started: Any = None
        self._start = start
        self._stop = stop
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        # Code the fake runs that asks for "the" event loop (not only the running one) finds its own.
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> Any:
        """Start the thread and the fake on it; returns what the fake's ``start`` returned."""
        self._thread.start()
        self.started = self.run(self._start(self.fake))
        return self.started

    def stop(self) -> None:
        """Stop the fake, then its loop and thread; a runner never started, or stopped, is left alone."""
        if not self._thread.is_alive():
            return
        try:
            self.run(self._stop(self.fake))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def run(self, coroutine: Awaitable[T]) -> T:
        """Await ``coroutine`` on the fake's loop and return its result in the caller's thread."""

        async def wrapper() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result()

    def call(self, function: Callable[[F], T]) -> T:
        """Run ``function(fake)`` on the fake's loop and return what it returns."""
        result: Future[T] = Future()

        def invoke() -> None:
            try:
                result.set_result(function(self.fake))
            except BaseException as error:  # re-raised in the caller's thread
                result.set_exception(error)

        self._loop.call_soon_threadsafe(invoke)
        return result.result()

    def outage(self) -> None:
        """Stop serving (connections refused) until :meth:`recover`."""
        self.run(self._stop(self.fake))

    def recover(self) -> None:
        self.run(self._start(self.fake))
