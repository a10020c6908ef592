"""Shared by the Kubernetes unit tests: the fake API (over HTTP or in-process), clients pointed at
it, and a virtual clock on which leader election runs without waiting in real time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes.kubernetes_api import FakeKubernetesApi
from forwarder.coordination.api import ClusterAccess, KubernetesApi

NAMESPACE = "siem"
IN_PROCESS_URL = "http://kubernetes.in-process"


@asynccontextmanager
async def fake_api(**options: object) -> AsyncIterator[FakeKubernetesApi]:
    fake = FakeKubernetesApi(**options)  # type: ignore[arg-type]
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def client(
    fake: FakeKubernetesApi,
    tmp_path: Path,
    token: str = "token-a",
    timeout: float = 5.0,
    *,
    in_process: bool = False,
) -> KubernetesApi:
    """A client of ``fake`` with its own service-account token; ``in_process``: no sockets, the fake
    answers through an httpx transport (and so on the fake's clock, if it has a virtual one)."""
    directory = tmp_path / f"serviceaccount-{token}"
    directory.mkdir(exist_ok=True)
    (directory / "token").write_text(token + "\n")
    (directory / "namespace").write_text(NAMESPACE)
    url = IN_PROCESS_URL if in_process else fake.url
    access = ClusterAccess.discover(api_url=url, service_account_dir=directory, environ={})
    transport = fake.transport() if in_process else None
    return KubernetesApi(access, timeout=timeout, identity=token, transport=transport)


class VirtualClock:
    """Monotonic time that moves only when the test moves it: every sleeper wakes at its own moment,
    in order, and whatever it sets off runs to its next wait before time moves on.

    Pass the clock itself as ``clock`` and :meth:`sleep` as ``sleep`` to the code under test (and
    to an in-process fake API, so that its latency and hanging requests are virtual too).
    """

    # Rounds of the event loop that let woken tasks run until they wait again. Nothing here waits
    # on real I/O (the fake API answers in-process), so a few hops per request are all it takes.
    SETTLE_ROUNDS = 64

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._epoch = datetime(2025, 3, 1, 12, 0, tzinfo=UTC) - timedelta(seconds=start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        """Wall-clock time moving with this clock (for the Lease's MicroTime fields)."""
        return self._epoch + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waking: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), waking))
        await waking

    async def settle(self) -> None:
        for _ in range(self.SETTLE_ROUNDS):
            await asyncio.sleep(0)

    def next_wake(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def step(self) -> bool:
        """Let everything run until it waits, then wake the next sleepers; False when none is left."""
        await self.settle()
        moment = self.next_wake()
        if moment is None:
            return False
        self.now = max(self.now, moment)
        while (due := self.next_wake()) is not None and due <= self.now:
            _, _, waking = heapq.heappop(self._sleepers)
            waking.set_result(None)
        await self.settle()
        return True

    async def run_until(self, condition: Callable[[], object], *, within: float) -> float:
        """Move time on until ``condition`` holds; the moment it did. Fails after ``within`` seconds."""
        limit = self.now + within
        await self.settle()
        while not condition():
            moment = self.next_wake()
            if moment is None or moment > limit:
                raise AssertionError(f"not true within {within} s of virtual time")
            await self.step()
        return self.now

    async def run_for(self, seconds: float) -> None:
        target = self.now + seconds
        await self.settle()
        while (moment := self.next_wake()) is not None and moment <= target:
            await self.step()
        self.now = target
        await self.settle()
