"""The simulator on its own event loop in a background thread, for synchronous code and subprocess tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import TypeVar

from fakes.cloudflare.config import SimulatorConfig
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.faults import Fault
from fakes.cloudflare.observations import SimulatorStats
from fakes.cloudflare.server import Simulator

T = TypeVar("T")


class SimulatorThread:
    """``with SimulatorThread(config) as sim: run_forwarder(sim.base_url)``.

    The simulator's state belongs to its loop's thread; ``call`` runs a function there and returns its
    result, and the convenience methods below go through it, so the caller's thread never races the server.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.simulator = Simulator(config) if clock is None else Simulator(config, clock=clock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cloudflare-simulator", daemon=True)
        self._base_url: str | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> str:
        self._thread.start()
        self._base_url = asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop).result()
        return self._base_url

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator thread has not been started")
        return self._base_url

    @property
    def control_url(self) -> str:
        return self.simulator.control_url

    def call(self, function: Callable[[Simulator], T]) -> T:
        """Run ``function(simulator)`` on the simulator's loop and return what it returns."""
        result: Future[T] = Future()

        def run() -> None:
            try:
                result.set_result(function(self.simulator))
            except BaseException as error:  # handed to the caller's thread, which re-raises it
                result.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        return result.result()

    def add_fault(self, fault: Fault) -> int:
        return self.call(lambda simulator: simulator.faults.add(fault))

    def clear_faults(self) -> None:
        self.call(lambda simulator: simulator.faults.clear())

    def add_records(
        self,
        account_id: str,
        log_type: str,
        records: Iterable[Mapping[str, object]],
        visible_after: float = 0.0,
    ) -> int:
        batch = list(records)
        return self.call(lambda simulator: simulator.add_records(account_id, log_type, batch, visible_after))

    def records(self, account_id: str, log_type: str) -> list[JsonObject]:
        return self.call(lambda simulator: simulator.records(account_id, log_type))

    def violations(self) -> list[str]:
        return self.call(lambda simulator: list(simulator.violations))

    def stats(self) -> SimulatorStats:
        return self.call(lambda simulator: simulator.stats)
