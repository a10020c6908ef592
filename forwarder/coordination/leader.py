"""Leader election over a ``coordination.k8s.io/v1`` Lease, the protocol of client-go's leaderelection.

A candidate reads the Lease every retry period. It takes the Lease when nobody holds it, or when
the holder has not renewed it for ``leaseDurationSeconds`` *as measured on this candidate's own
clock* from the moment it saw the record change (clocks of different nodes are never compared).
Every write carries the ``resourceVersion`` it read, so two candidates can never both succeed:
the API answers the slower one 409 Conflict.

The leader renews every retry period. Its leadership is valid until ``renew_deadline`` after the
*start* of its last successful renewal; past that it stops, whether or not the API ever answers
again. Another candidate takes over no earlier than ``lease_duration`` after it saw that same
renewal, which happened after the request started: with ``renew_deadline < lease_duration`` the old
leader has stopped before a new one can start, with ``lease_duration - renew_deadline`` to spare.

A renewal is client-go's ``tryAcquireOrRenew``: it writes the Lease it holds; on a conflict (or a
Lease that was deleted) it reads the Lease again and writes again at once, in the same attempt,
unless the Lease now names another holder (the term ends). Transient failures (no answer, 429,
5xx) are retried with backoff, never past the renew deadline; every request is cut off at
FORWARDER_KUBERNETES_REQUEST_TIMEOUT or at the deadline, whichever comes first, on this replica's
own clock, so the term ends at its deadline even while a request hangs.

Time is read from ``clock`` and waited for with ``sleep`` (both injectable): tests run the protocol
on a virtual clock instead of waiting in real time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never

from forwarder.coordination.api import (
    LEASES,
    JsonObject,
    KubernetesApi,
    KubernetesConfigurationError,
    KubernetesError,
)
from forwarder.coordination.lease import (
    LeadershipLost,
    Term,
    bounded,
    held_lease,
    lost_race,
    micro_time,
    new_lease,
    released_lease,
    transient,
    utc_now,
)
from forwarder.retry import MAX_RETRY_AFTER, Backoff
from forwarder.settings.leases import JITTER, LeaseTimings

__all__ = ["JITTER", "LeaderElector", "LeadershipLost", "LeaseTimings", "Term", "micro_time"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class LeaderElector:
    """Campaigns for one Lease; :meth:`run` forever, :meth:`leading` to wait for a term.

    ``clock`` (monotonic seconds) and ``sleep`` are the time every decision and wait uses;
    ``wall_clock`` only stamps the Lease. ``backoff`` paces retries after transient failures; its
    waits are capped at the retry period (the protocol's own pace) and, while leading, at the time
    left before the renew deadline.
    """

    def __init__(
        self,
        api: KubernetesApi,
        name: str,
        identity: str,
        timings: LeaseTimings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], datetime] = utc_now,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = api
        self.name = name
        self.identity = identity
        self.timings = timings
        self.clock = clock
        self.sleep = sleep
        # Only for the Lease's acquireTime/renewTime, which people read: decisions use ``clock``.
        self.wall_clock = wall_clock
        chosen = backoff if backoff is not None else Backoff(initial=min(0.5, timings.retry_period / 4))
        self.backoff = Backoff(
            initial=min(chosen.initial, timings.retry_period),
            maximum=min(chosen.maximum, timings.retry_period),
        )
        self.term: Term | None = None
        self._terms = 0
        self._became_leader = asyncio.Event()
        # The lease as we last read or wrote it, and when (on our clock) we first saw that version.
        self._lease: JsonObject | None = None
        self._observed_spec: Any = None
        self._observed_at = 0.0
        # Leadership holds until this moment on our clock (start of the last renewal + renew deadline).
        self._valid_until = -math.inf
        # A throttled renewal ended the term: the next round waits as long as the API asked.
        self._quiet_until = -math.inf

    # -- what the rest of the forwarder asks ---------------------------------------------------------

    def is_leader(self) -> bool:
        return self.term is not None and self.clock() < self._valid_until

    def ensure_leading(self) -> None:
        """Raise LeadershipLost unless this replica holds the Lease right now."""
        if not self.is_leader():
            raise LeadershipLost(f"{self.identity} does not hold the lease {self.api.namespace}/{self.name}")

    async def leading(self) -> Term:
        """Wait until this replica leads; the term's ``lost`` event tells when that ends."""
        while self.term is None or not self.is_leader():
            self._became_leader.clear()
            await self._became_leader.wait()
        return self.term

    # -- the campaign --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Acquire, renew while possible, acquire again after losing it; until cancelled.

        Raises KubernetesConfigurationError when a person must fix something (RBAC, namespace).
        """
        while True:
            await self._acquire()
            await self._renew_until_lost()

    async def _acquire(self) -> None:
        pause = self._quiet_until - self.clock()
        if pause > 0:
            await self.sleep(pause)
        while True:
            # Transient failures are retried sooner than the next round (a blip at start-up costs
            # a moment, not a retry period); a Lease held by another waits for the next round.
            retrying = AsyncRetrying(
                retry=retry_if_exception(transient),
                wait=self._candidate_wait,
                stop=stop_never,
                sleep=self.sleep,
                reraise=True,
                before_sleep=self._log_retry("cannot read or take the lease; trying again"),
            )
            async for attempt in retrying:
                with attempt:
                    acquired = await self._try_acquire()
            if acquired:
                break
            await self.sleep(self.timings.retry_period * (1 + JITTER * random.random()))
        self._terms += 1
        self.term = Term(self._terms)
        log.info(
            "acquired the lease: this replica leads",
            extra={"lease": self._lease_path(), "identity": self.identity, "term": self._terms},
        )
        self._became_leader.set()

    async def _renew_until_lost(self) -> None:
        # Cancellation (shutdown) leaves the term as it is: release() hands the lease back, or the
        # leadership simply runs out at its deadline.
        reason = "could not renew it before the renew deadline"
        try:
            while True:
                # The next renewal a retry period after the last one (client-go's pace), but the term
                # ends at the deadline itself, not a retry period later.
                remaining = self._remaining()
                if remaining <= 0:
                    break
                await self.sleep(min(self.timings.retry_period, remaining))
                if not await self._renew_within_deadline():
                    reason = "another replica holds it"
                    break
        except KubernetesConfigurationError as error:
            # Leading without a Lease the API lets us renew would end at the deadline anyway; stop now
            # and let the campaign say what to fix.
            self._end_term()
            log.warning(
                "lost the lease: stopped leading",
                extra={"lease": self._lease_path(), "identity": self.identity, "reason": str(error)},
            )
            raise
        except KubernetesError as error:
            reason = f"could not renew it before the renew deadline: {error}"
            if error.retry_after is not None:
                self._quiet_until = self.clock() + min(error.retry_after, MAX_RETRY_AFTER)
        self._end_term()
        log.warning(
            "lost the lease: stopped leading",
            extra={"lease": self._lease_path(), "identity": self.identity, "reason": reason},
        )

    def _end_term(self) -> None:
        self._valid_until = -math.inf
        if self.term is not None:
            self.term.lost.set()
        self.term = None

    async def _renew_within_deadline(self) -> bool:
        """Renew, retrying transient failures with backoff while the deadline allows.

        True when renewed; False when another replica holds the lease; the last error when the
        deadline leaves no room for another try.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(transient),
            wait=self._renewal_wait,
            stop=self._no_time_for_another_try,
            sleep=self.sleep,
            reraise=True,
            before_sleep=self._log_retry("cannot renew the lease; trying again"),
        )
        async for attempt in retrying:
            with attempt:
                return await self._renew_once()
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _renewal_wait(self, state: RetryCallState) -> float:
        return max(0.0, min(self.backoff.waiter()(state), self._remaining()))

    def _no_time_for_another_try(self, state: RetryCallState) -> bool:
        # Also when the server asks for a longer pause than the deadline leaves: the term would end
        # before the next try could start.
        return self._remaining() - state.upcoming_sleep <= 0

    def _candidate_wait(self, state: RetryCallState) -> float:
        period = self.timings.retry_period * (1 + JITTER * random.random())
        asked = self.backoff.waiter()(state)
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, KubernetesError) and error.retry_after is not None:
            return min(max(error.retry_after, period), MAX_RETRY_AFTER)
        return min(asked, period)

    def _log_retry(self, message: str) -> Callable[[RetryCallState], None]:
        def say(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                message,
                extra={
                    "lease": self._lease_path(),
                    "reason": str(error),
                    "attempt": state.attempt_number,
                    "wait": round(state.upcoming_sleep, 3),
                },
            )

        return say

    # -- one round of the protocol -------------------------------------------------------------------

    async def _try_acquire(self) -> bool:
        """A candidate's round: True when we now hold the lease, False when another replica holds it
        (or won this round: a conflict)."""
        started = self.clock()
        timeout = self.api.timeout
        lease = await self._bounded(self.api.get(LEASES, self.name, request_timeout=timeout), timeout)
        try:
            if lease is None:
                return await self._create(started, timeout)
            self._observe(lease)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            if holder != self.identity and holder and not self._expired(spec):
                return False
            return await self._write(lease, started, timeout)
        except KubernetesError as error:
            if lost_race(error):
                return False  # another candidate won this round
            raise

    async def _renew_once(self) -> bool:
        """One renewal attempt, as client-go: the Lease we hold, written again; on a conflict, read
        it afresh and write again at once, while the deadline allows. False when another holds it."""
        started = self.clock()
        lease = self._lease
        while True:
            if lease is None:
                lease = await self._bounded(
                    self.api.get(LEASES, self.name, request_timeout=self._renewal_timeout()),
                    self._renewal_timeout(),
                )
                if lease is not None:
                    self._observe(lease)
                    holder = (lease.get("spec") or {}).get("holderIdentity") or ""
                    if holder and holder != self.identity:
                        return False
            try:
                if lease is None:
                    # Deleted under us: nobody else holds it, so creating it keeps the term safe.
                    return await self._create(started, self._renewal_timeout())
                return await self._write(lease, started, self._renewal_timeout())
            except KubernetesError as error:
                if not lost_race(error):
                    raise
                lease = self._lease = None

    async def _write(self, lease: JsonObject, started: float, seconds: float) -> bool:
        body = held_lease(lease, self.identity, self.timings.duration, self.wall_clock())
        written = await self._bounded(
            self.api.replace(LEASES, self.name, body, request_timeout=seconds), seconds
        )
        self._held(written, started)
        return True

    async def _create(self, started: float, seconds: float) -> bool:
        body = new_lease(
            self.name, self.api.namespace, self.identity, self.timings.duration, self.wall_clock()
        )
        written = await self._bounded(self.api.create(LEASES, body, request_timeout=seconds), seconds)
        self._held(written, started)
        return True

    async def _bounded(self, request: Coroutine[Any, Any, T], seconds: float) -> T:
        return await bounded(request, seconds, self.sleep, f"lease {self._lease_path()}")

    def _remaining(self) -> float:
        return self._valid_until - self.clock()

    def _renewal_timeout(self) -> float:
        """FORWARDER_KUBERNETES_REQUEST_TIMEOUT, or less: never past the renew deadline."""
        return min(self.api.timeout, self._remaining())

    def _held(self, lease: JsonObject, started: float) -> None:
        self._lease = lease
        self._observe(lease)
        self._valid_until = started + self.timings.renew_deadline

    def _observe(self, lease: JsonObject) -> None:
        spec = lease.get("spec")
        if spec != self._observed_spec:
            self._observed_spec = spec
            # After the answer arrived: the holder wrote this version before that, never later.
            self._observed_at = self.clock()

    def _expired(self, spec: JsonObject) -> bool:
        duration = spec.get("leaseDurationSeconds")
        duration = float(duration) if isinstance(duration, int | float) else self.timings.duration
        return self.clock() > self._observed_at + duration

    def _lease_path(self) -> str:
        return f"{self.api.namespace}/{self.name}"

    async def close(self) -> None:
        """Close the API client (when the run ends, after :meth:`release`)."""
        await self.api.close()

    async def release(self) -> None:
        """Hand the lease back so that another replica takes over at once (on a clean shutdown).

        Only while still leading, and only after reading and committing have stopped.
        """
        if not self.is_leader() or self._lease is None:
            return
        released = released_lease(self._lease, self.wall_clock())
        self._end_term()
        timeout = self.api.timeout
        try:
            await self._bounded(
                self.api.replace(LEASES, self.name, released, request_timeout=timeout), timeout
            )
        except KubernetesError as error:
            log.warning(
                "could not release the lease; another replica takes over once it expires",
                extra={"reason": str(error)},
            )
            return
        log.info("released the lease", extra={"lease": self._lease_path(), "identity": self.identity})
