"""The pieces of the Lease protocol that are not the elector itself: a term of leadership, the Lease's
time format, and which API errors mean "try again". Its timings and their rules are settings
(:mod:`forwarder.settings.leases`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from forwarder.coordination.api import KubernetesConfigurationError, KubernetesError


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
