"""Run an asyncio fake server on its own loop in a background thread, for subprocess tests.

The fake's state belongs to its loop; :meth:`ThreadedFake.call` runs a function there, so a
test's thread never races the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
F = TypeVar("F")


class ThreadedFake(Generic[F]):
    def __init__(
        self, fake: F, start: Callable[[F], Awaitable[Any]], stop: Callable[[F], Awaitable[Any]]
    ) -> None:
        self.fake = fake
        self._start = start
        self._stop = stop
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-server", daemon=True)

    def __enter__(self) -> ThreadedFake[F]:
        self._thread.start()
        self.run(self._start(self.fake))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.run(self._stop(self.fake))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def run(self, coroutine: Awaitable[T]) -> T:
        async def wrapper() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result()

    def call(self, function: Callable[[F], T]) -> T:
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
