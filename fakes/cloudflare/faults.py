"""Trouble on demand: the failures a Cloudflare poller meets in production, injected while it runs.

A ``Fault`` says what goes wrong, for how many answers (``count``; None = no limit) and/or for how long
(``duration`` real seconds from when it is added), optionally only for paths matching ``path`` (an
``fnmatch`` glob on the path below ``/client/v4``, e.g. ``*/scim/updates``). All durations here are real
seconds: faults are a test's direct instructions, unlike the rate limit which follows ``time_scale``.

Faults are consulted in the order they were added. Of those matching a request, the first that replaces
the answer (``too_many_requests``, ``block``, ``server_error``, ``connection_reset``, ``non_json``,
``odd_envelope``) is used and spends one of its ``count``; ``slow`` delays add up, while ``ignore_page``
and ``page_cap`` bend the normal answer (the smallest cap wins when several match). Faulted requests
bypass the rate limiter; a replacing fault with ``ratelimit_headers`` still carries ordinary, unspent
rate-limit headers, as an edge may on any answer: a client must not read them as a spent budget.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from fakes.cloudflare.envelope import ODD_SHAPES, JsonObject


class FaultKind(StrEnum):
    TOO_MANY_REQUESTS = "too_many_requests"
    """``count`` answers of 429 / code 971 with ``Retry-After: retry_after``."""
    BLOCK = "block"
    """Every call 429 for ``duration`` seconds, ``Retry-After`` counting down, as the real block does."""
    SERVER_ERROR = "server_error"
    """``count`` answers with ``status`` (500/502/503...) and a JSON error envelope."""
    SLOW = "slow"
    """Wait ``delay`` seconds, then answer normally."""
    CONNECTION_RESET = "connection_reset"
    """Close the connection (TCP RST) without answering."""
    NON_JSON = "non_json"
    """Answer ``status`` with an HTML page (``body``), like a proxy in front of the API."""
    IGNORE_PAGE = "ignore_page"
    """Answer page 1 whatever ``page`` asks: the trap for clients that page until an empty page."""
    PAGE_CAP = "page_cap"
    """At most ``size`` rows a page whatever ``per_page`` asks, paged by that size: a server clamping it."""
    ODD_ENVELOPE = "odd_envelope"
    """A 200 whose body is odd in the way ``shape`` names (see ``envelope.ODD_SHAPES``)."""


_REPLACING = frozenset(
    {
        FaultKind.TOO_MANY_REQUESTS,
        FaultKind.BLOCK,
        FaultKind.SERVER_ERROR,
        FaultKind.CONNECTION_RESET,
        FaultKind.NON_JSON,
        FaultKind.ODD_ENVELOPE,
    }
)
# Kinds whose count is unlimited unless given, in the constructors and ``from_json`` alike.
_UNLIMITED_BY_DEFAULT = frozenset({FaultKind.BLOCK, FaultKind.IGNORE_PAGE, FaultKind.PAGE_CAP})


@dataclass(frozen=True)
class Fault:
    """One injected trouble; the fields a kind does not use are ignored.

    ``size`` is a ``page_cap``'s rows per page, ``shape`` an ``odd_envelope``'s body. ``ratelimit_headers``
    makes a replacing answer carry ordinary, unspent ``Ratelimit``/``X-RateLimit-*`` headers without
    ``Retry-After`` (a 429 fault keeps its own ``Retry-After``), so a client learns not to read them as a
    spent budget.
    """

    kind: FaultKind
    count: int | None = 1
    duration: float | None = None
    path: str | None = None
    status: int = 500
    retry_after: float = 1.0
    delay: float = 0.0
    body: str | None = None
    size: int | None = None
    ratelimit_headers: bool = False
    shape: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))
        if self.count is not None and self.count < 1:
            raise ValueError("count is at least 1 (or None for no limit)")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration is positive (or None for no limit)")
        if self.kind is FaultKind.BLOCK and self.duration is None:
            raise ValueError("a block needs a duration")
        if self.kind is FaultKind.SERVER_ERROR and not 500 <= self.status <= 599:
            raise ValueError("server_error status is 5xx")
        if not 100 <= self.status <= 599:
            raise ValueError("status is an HTTP status")
        if self.delay < 0 or self.retry_after < 0:
            raise ValueError("delay and retry_after cannot be negative")
        if not isinstance(self.ratelimit_headers, bool):
            raise ValueError("ratelimit_headers is true or false")
        if self.kind is FaultKind.PAGE_CAP and not _is_positive_integer(self.size):
            raise ValueError("a page cap needs a size of at least 1")
        if self.kind is FaultKind.ODD_ENVELOPE and self.shape not in ODD_SHAPES:
            raise ValueError(f"an odd envelope's shape is one of {', '.join(ODD_SHAPES)}")

    @classmethod
    def too_many_requests(cls, count: int = 1, retry_after: float = 1.0, path: str | None = None) -> Fault:
        return cls(FaultKind.TOO_MANY_REQUESTS, count=count, retry_after=retry_after, path=path)

    @classmethod
    def block(cls, seconds: float, path: str | None = None) -> Fault:
        return cls(FaultKind.BLOCK, count=None, duration=seconds, path=path)

    @classmethod
    def server_error(
        cls, status: int = 500, count: int = 1, path: str | None = None, *, ratelimit_headers: bool = False
    ) -> Fault:
        return cls(
            FaultKind.SERVER_ERROR, count=count, status=status, path=path, ratelimit_headers=ratelimit_headers
        )

    @classmethod
    def slow(cls, delay: float, count: int | None = 1, path: str | None = None) -> Fault:
        return cls(FaultKind.SLOW, count=count, delay=delay, path=path)

    @classmethod
    def connection_reset(cls, count: int = 1, path: str | None = None) -> Fault:
        return cls(FaultKind.CONNECTION_RESET, count=count, path=path)

    @classmethod
    def non_json(
        cls,
        count: int = 1,
        status: int = 502,
        body: str | None = None,
        path: str | None = None,
        *,
        ratelimit_headers: bool = False,
    ) -> Fault:
        return cls(
            FaultKind.NON_JSON,
            count=count,
            status=status,
            body=body,
            path=path,
            ratelimit_headers=ratelimit_headers,
        )

    @classmethod
    def ignore_page(
        cls, count: int | None = None, duration: float | None = None, path: str | None = None
    ) -> Fault:
        return cls(FaultKind.IGNORE_PAGE, count=count, duration=duration, path=path)

    @classmethod
    def page_cap(
        cls, size: int, count: int | None = None, duration: float | None = None, path: str | None = None
    ) -> Fault:
        return cls(FaultKind.PAGE_CAP, count=count, duration=duration, path=path, size=size)

    @classmethod
    def odd_envelope(
        cls, shape: str, count: int = 1, path: str | None = None, *, ratelimit_headers: bool = False
    ) -> Fault:
        return cls(
            FaultKind.ODD_ENVELOPE, count=count, path=path, shape=shape, ratelimit_headers=ratelimit_headers
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Fault:
        """From the control endpoint's JSON; unknown keys or bad values raise ValueError."""
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        if "kind" not in raw:
            raise ValueError(f"kind is required, one of {', '.join(kind.value for kind in FaultKind)}")
        try:
            kind = FaultKind(str(raw["kind"]))
        except ValueError:
            raise ValueError(f"kind is one of {', '.join(kind.value for kind in FaultKind)}") from None
        arguments = {name: value for name, value in raw.items() if name != "kind"}
        if kind in _UNLIMITED_BY_DEFAULT:
            # Same defaults as the ``Fault.block`` / ``ignore_page`` / ``page_cap`` constructors.
            arguments.setdefault("count", None)
        try:
            return cls(kind, **arguments)  # type: ignore[arg-type]
        except TypeError as error:
            raise ValueError(str(error)) from None

    def to_json(self) -> JsonObject:
        return {
            name: (value.value if isinstance(value, FaultKind) else value)
            for name, value in asdict(self).items()
        }

    def matches(self, path: str) -> bool:
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


def _is_positive_integer(value: object) -> bool:
    """JSON gives bools and floats too; neither is a page size."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass
class ActiveFault:
    id: int
    fault: Fault
    added_at: float
    remaining: int | None
    used: int = 0

    @property
    def expires_at(self) -> float | None:
        return None if self.fault.duration is None else self.added_at + self.fault.duration

    def to_json(self) -> JsonObject:
        return {"id": self.id, "remaining": self.remaining, "used": self.used, **self.fault.to_json()}


@dataclass
class FaultEffects:
    """What the faults do to one request."""

    delay: float = 0.0
    ignore_page: bool = False
    page_cap: int | None = None
    answer: Fault | None = None
    retry_after: int | None = None
    applied: list[FaultKind] = field(default_factory=list)


class FaultPlan:
    """The faults in force; ``Simulator.faults``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._faults: list[ActiveFault] = []
        self._next_id = 1

    def add(self, fault: Fault) -> int:
        """Put ``fault`` in force now; returns its id for ``remove``."""
        fault_id = self._next_id
        self._next_id += 1
        self._faults.append(ActiveFault(fault_id, fault, self._clock(), fault.count))
        return fault_id

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [active for active in self._faults if active.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def active(self) -> list[ActiveFault]:
        self._expire(self._clock())
        return list(self._faults)

    def _expire(self, now: float) -> None:
        self._faults = [
            active
            for active in self._faults
            if (active.remaining is None or active.remaining > 0)
            and (active.expires_at is None or now < active.expires_at)
        ]

    def _spend(self, active: ActiveFault) -> None:
        active.used += 1
        if active.remaining is not None:
            active.remaining -= 1

    def take(self, path: str) -> FaultEffects:
        """The effects on a request for ``path``, spending the counts of the faults used."""
        now = self._clock()
        self._expire(now)
        effects = FaultEffects()
        matching = [active for active in self._faults if active.fault.matches(path)]
        for active in matching:
            if active.fault.kind in _REPLACING:
                effects.answer = active.fault
                effects.applied.append(active.fault.kind)
                if active.fault.kind is FaultKind.BLOCK and active.expires_at is not None:
                    effects.retry_after = max(1, math.ceil(active.expires_at - now))
                else:
                    effects.retry_after = max(0, math.ceil(active.fault.retry_after))
                self._spend(active)
                break
        for active in matching:
            kind = active.fault.kind
            if kind is FaultKind.SLOW:
                effects.delay += active.fault.delay
            elif kind is FaultKind.IGNORE_PAGE and effects.answer is None:
                effects.ignore_page = True
            elif kind is FaultKind.PAGE_CAP and effects.answer is None and active.fault.size is not None:
                effects.page_cap = _smaller(effects.page_cap, active.fault.size)
            else:
                continue
            effects.applied.append(kind)
            self._spend(active)
        return effects


def _smaller(current: int | None, size: int) -> int:
    """Several caps in force: the tightest one is what the client sees."""
    return size if current is None else min(current, size)
