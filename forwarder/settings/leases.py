"""The timings of Lease leader election and the rules they must keep: settings checks them at start,
the elector (:mod:`forwarder.coordination.leader`) runs by them."""

from __future__ import annotations

from dataclasses import dataclass

# Waits between attempts to acquire are stretched at random up to this factor, so that candidates
# started together do not ask in lockstep (client-go's JitterFactor is 1.2; this is tighter).
JITTER = 0.2


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
