"""The simulator on the fakes' thread runner (``fakes.threaded``), with shortcuts tests use often."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from fakes.cloudflare.config import SimulatorConfig
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.faults import Fault
from fakes.cloudflare.observations import SimulatorStats
from fakes.cloudflare.server import Simulator
from fakes.threaded import ThreadedFake


class SimulatorThread(ThreadedFake[Simulator]):
    """``with SimulatorThread(config) as sim: run_forwarder(sim.base_url)``.

    The simulator's state belongs to its loop's thread; ``call`` runs a function there and returns its
    result, and the shortcuts below go through it, so the caller's thread never races the server.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        simulator = Simulator(config) if clock is None else Simulator(config, clock=clock)
        super().__init__(simulator, Simulator.start, Simulator.stop, name="cloudflare-simulator")

    @property
    def simulator(self) -> Simulator:
        return self.fake

    def start(self) -> str:
        """Serve; returns the base URL."""
        super().start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if not isinstance(self.started, str):
            raise RuntimeError("the simulator thread has not been started")
        return self.started

    @property
    def control_url(self) -> str:
        return self.simulator.control_url

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
