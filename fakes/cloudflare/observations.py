"""What the simulator saw and answered, for tests to assert on (``Simulator.requests`` and ``.stats``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fakes.cloudflare.envelope import JsonObject


@dataclass
class ReceivedRequest:
    """One request as received, secrets removed: the credential appears only as its ``label``.

    ``status`` is the HTTP status answered; None while it is being answered or when the connection was
    reset instead. ``time`` is the simulator clock's reading when it arrived.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    time: float
    credential: str | None = None
    auth_scheme: str | None = None
    status: int | None = None

    def to_json(self) -> JsonObject:
        return {
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "time": self.time,
            "credential": self.credential,
            "auth_scheme": self.auth_scheme,
            "status": self.status,
        }


@dataclass
class SimulatorStats:
    """Counts since start. ``too_many_requests`` counts every 429 answered, from the limiter or a fault."""

    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    responses_by_status: Counter[int] = field(default_factory=Counter)
    too_many_requests: int = 0
    rate_limit_blocks: int = 0
    connection_resets: int = 0
    faults_applied: Counter[str] = field(default_factory=Counter)

    def answered(self, status: int) -> None:
        self.responses_by_status[status] += 1
        if status == 429:
            self.too_many_requests += 1

    def to_json(self, violations: list[str]) -> JsonObject:
        return {
            "requests_by_endpoint": dict(self.requests_by_endpoint),
            "responses_by_status": {str(status): count for status, count in self.responses_by_status.items()},
            "too_many_requests": self.too_many_requests,
            "rate_limit_blocks": self.rate_limit_blocks,
            "connection_resets": self.connection_resets,
            "faults_applied": dict(self.faults_applied),
            "violations": list(violations),
        }
