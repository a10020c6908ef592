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
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forwarder.kubernetes.api import (
    LEASES,
    JsonObject,
    KubernetesApi,
    KubernetesConfigurationError,
    KubernetesError,
)

log = logging.getLogger(__name__)

# Waits between attempts to acquire are stretched at random up to this factor, so that candidates
# started together do not ask in lockstep (client-go's JitterFactor is 1.2; this is tighter).
JITTER = 0.2


class LeadershipLost(Exception):
    """This replica is no longer the leader: it must not read streams or commit positions."""


@dataclass(frozen=True)
class LeaseTimings:
    duration: float
    renew_deadline: float
    retry_period: float

    def problems(self) -> list[str]:
        found = []
        if self.renew_deadline >= self.duration:
            found.append(
                "FORWARDER_LEASE_RENEW_DEADLINE: must be shorter than FORWARDER_LEASE_DURATION, so that a "
                "leader that cannot renew stops before another replica may take over"
            )
        if self.retry_period * (1 + JITTER) >= self.renew_deadline:
            found.append(
                "FORWARDER_LEASE_RETRY_PERIOD: must be shorter than FORWARDER_LEASE_RENEW_DEADLINE / 1.2, "
                "so that a leader gets more than one try to renew"
            )
        return found


@dataclass
class Term:
    """One uninterrupted period of leadership. ``lost`` is set when it ends, for whatever reason."""

    number: int
    lost: asyncio.Event = field(default_factory=asyncio.Event)


def micro_time(moment: datetime) -> str:
    """The API's MicroTime format: RFC 3339 with exactly six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for one Lease; :meth:`run` forever, :meth:`leading` to wait for a term."""

    def __init__(
        self,
        api: KubernetesApi,
        name: str,
        identity: str,
        timings: LeaseTimings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.name = name
        self.identity = identity
        self.timings = timings
        self.clock = clock
        self.term: Term | None = None
        self._terms = 0
        self._became_leader = asyncio.Event()
        # The lease as we last read or wrote it, and when (on our clock) we first saw that version.
        self._lease: JsonObject | None = None
        self._observed_spec: Any = None
        self._observed_at = 0.0
        # Leadership holds until this moment on our clock (start of the last renewal + renew deadline).
        self._valid_until = -math.inf

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
        """Acquire, renew while possible, acquire again after losing it; until cancelled."""
        while True:
            await self._acquire()
            await self._renew_until_lost()

    async def _acquire(self) -> None:
        while True:
            started = self.clock()
            try:
                if await self._try_acquire_or_renew(started):
                    break
            except KubernetesConfigurationError:
                raise
            except KubernetesError as error:
                if not error.conflict:  # a conflict is another candidate winning this round
                    log.warning("cannot read or take the lease; trying again", extra={"reason": str(error)})
            await asyncio.sleep(self.timings.retry_period * (1 + JITTER * random.random()))
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
        while True:
            remaining = self._valid_until - self.clock()
            if remaining <= 0:
                break
            # The term ends at the deadline itself, even while a request hangs unanswered.
            try:
                async with asyncio.timeout(remaining):
                    await asyncio.sleep(self.timings.retry_period)
                    if not await self._renew_within_deadline():
                        reason = "another replica holds it"
                        break
            except TimeoutError:
                break
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
        """Renew, trying again every retry period; False when someone else holds the lease."""
        while True:
            started = self.clock()
            try:
                return await self._try_acquire_or_renew(started)
            except KubernetesError as error:
                log.warning("cannot renew the lease; trying again", extra={"reason": str(error)})
            await asyncio.sleep(self.timings.retry_period)

    async def _try_acquire_or_renew(self, started: float) -> bool:
        """One round of the protocol. True when we hold the lease, renewed at ``started``; False when
        another replica holds it. A conflict (the lease changed since we read it) is raised: read again."""
        now = datetime.now(UTC)
        lease = self._lease if self.is_leader() else None
        if lease is None:
            lease = await self.api.get(LEASES, self.name, request_timeout=self._request_timeout())
            if lease is None:
                return await self._create(now, started)
            self._observe(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder != self.identity and holder and not self._expired(spec):
            return False
        renewed = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.timings.duration),
            "acquireTime": spec.get("acquireTime") if holder == self.identity else micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (holder != self.identity),
        }
        body = {**lease, "spec": {**spec, **renewed}}
        try:
            written = await self.api.replace(LEASES, self.name, body, request_timeout=self._request_timeout())
        except KubernetesError as error:
            if error.conflict:
                self._lease = None
            raise
        self._held(written, started)
        return True

    async def _create(self, now: datetime, started: float) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.api.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self.timings.duration),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        written = await self.api.create(LEASES, body, request_timeout=self._request_timeout())
        self._held(written, started)
        return True

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

    def _request_timeout(self) -> float:
        return self.timings.retry_period * 2

    def _lease_path(self) -> str:
        return f"{self.api.namespace}/{self.name}"

    async def release(self) -> None:
        """Hand the lease back so that another replica takes over at once (on a clean shutdown).

        Only while still leading, and only after reading and committing have stopped.
        """
        if not self.is_leader() or self._lease is None:
            return
        spec = self._lease.get("spec") or {}
        now = micro_time(datetime.now(UTC))
        released = {
            **self._lease,
            "spec": {**spec, "holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": now},
        }
        self._end_term()
        try:
            await self.api.replace(LEASES, self.name, released, request_timeout=self._request_timeout())
        except KubernetesError as error:
            log.warning(
                "could not release the lease; another replica takes over once it expires",
                extra={"reason": str(error)},
            )
            return
        log.info("released the lease", extra={"lease": self._lease_path(), "identity": self.identity})
