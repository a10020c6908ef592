"""The pieces of the Lease protocol that are not the elector itself: a term of leadership, the Lease's
time format, and which API errors mean "try again". Its timings and their rules are settings
(:mod:`forwarder.settings.leases`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from forwarder.coordination.errors import KubernetesConfigurationError, KubernetesError

if TYPE_CHECKING:
    from forwarder.coordination.api import JsonObject

T = TypeVar("T")


class LeadershipLost(Exception):
    """This replica is no longer the leader: it must not read streams or commit positions."""


class DeadlinePassed(KubernetesError):
    """No time is left before the renew deadline for another request."""


@dataclass
class Term:
    """One uninterrupted period of leadership. ``lost`` is set when it ends, for whatever reason."""

    number: int
    lost: asyncio.Event = field(default_factory=asyncio.Event)


def micro_time(moment: datetime) -> str:
    """The API's MicroTime format: RFC 3339 with exactly six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def held_lease(lease: JsonObject, identity: str, duration: float, now: datetime) -> JsonObject:
    """``lease`` renewed by ``identity``, or taken over by it (a new acquire time, one more transition)."""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    renewed = {
        "holderIdentity": identity,
        "leaseDurationSeconds": math.ceil(duration),
        "acquireTime": spec.get("acquireTime") if holder == identity else micro_time(now),
        "renewTime": micro_time(now),
        "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (holder != identity),
    }
    return {**lease, "spec": {**spec, **renewed}}


def new_lease(name: str, namespace: str, identity: str, duration: float, now: datetime) -> JsonObject:
    """A Lease that nobody held before, created held by ``identity``."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": math.ceil(duration),
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": 0,
        },
    }


def released_lease(lease: JsonObject, now: datetime) -> JsonObject:
    """``lease`` handed back: no holder, and a duration of one second so that a standby takes it at once."""
    spec = lease.get("spec") or {}
    released = {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time(now)}
    return {**lease, "spec": {**spec, **released}}


def transient(error: BaseException) -> bool:
    return (
        isinstance(error, KubernetesError)
        and not isinstance(error, KubernetesConfigurationError)
        and error.retryable
    )


def lost_race(error: KubernetesError) -> bool:
    """The Lease changed (409) or vanished (404 on a write) since we read it: read it again.

    Not a 404 that means the namespace does not exist: that one is a configuration error."""
    return not isinstance(error, KubernetesConfigurationError) and (error.conflict or error.not_found)


async def bounded(
    request: Coroutine[Any, Any, T], seconds: float, sleep: Callable[[float], Awaitable[None]], what: str
) -> T:
    """The request's answer, or a timeout after ``seconds`` waited with ``sleep`` (the elector's clock).

    httpx's timeout applies to each phase of a request (connect, write, read), not to the
    whole; the term's deadline is a moment on the elector's clock, so it is enforced here as well.
    """
    if seconds <= 0:
        request.close()
        raise DeadlinePassed(f"{what}: no time left before the renew deadline")
    call = asyncio.ensure_future(request)
    timer = asyncio.ensure_future(sleep(seconds))
    try:
        done, _ = await asyncio.wait({call, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not call.done():
            call.cancel()
        await asyncio.gather(call, timer, return_exceptions=True)
    if call in done:
        return call.result()
    raise KubernetesError(f"{what}: the Kubernetes API did not answer within {seconds:.3g} s")
