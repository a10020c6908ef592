"""The pieces of the Lease protocol that are not the elector itself: its timings and their rules,
a term of leadership, the Lease's time format, and which API errors mean "try again".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from forwarder.coordination.api import KubernetesConfigurationError, KubernetesError

# Waits between attempts to acquire are stretched at random up to this factor, so that candidates
# started together do not ask in lockstep (client-go's JitterFactor is 1.2; this is tighter).
JITTER = 0.2


class LeadershipLost(Exception):
    """This replica is no longer the leader: it must not read streams or commit positions."""


class DeadlinePassed(KubernetesError):
    """No time is left before the renew deadline for another request."""


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


def utc_now() -> datetime:
    return datetime.now(UTC)


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
