"""Where records live: per (account, log type), sorted by time, and hidden until they become visible.

A record is *visible* from its ``visible_at`` moment on: its own timestamp for most generated records (the
API cannot return the future), later for "late" ones, and ``now + visible_after`` for injected ones. Records
not yet visible wait in a heap and join the sorted arrays when a query first happens after their moment,
so a query is two bisections plus the page it returns.
"""

from __future__ import annotations

import heapq
import random
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fakes.cloudflare.audit_generation import AuditLogFactory
from fakes.cloudflare.config import ACCESS_REQUESTS, AUDIT_LOGS, LOG_TYPES, SCIM_UPDATES, SimulatorConfig
from fakes.cloudflare.directory import Directory, build_directory
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.record_generation import (
    AccessRequestFactory,
    ScimUpdateFactory,
    Series,
    generate_series,
)
from fakes.cloudflare.timestamps import NANOSECONDS, from_datetime, parse_rfc3339

# Where each log type keeps its time: a field, or an object and its field.
TIME_PATHS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {ACCESS_REQUESTS: ("created_at",), SCIM_UPDATES: ("logged_at",), AUDIT_LOGS: ("action", "time")}
)


def time_value(log_type: str, record: Mapping[str, object]) -> object:
    """The time of ``record`` as written; None when missing or not where its log type keeps it."""
    value: object = record
    for name in TIME_PATHS[log_type]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


# (key, time in ns, fraction digits, provider index) -> record
RecordBuilder = Callable[[int, int, int, int], JsonObject]


@dataclass
class _Injected:
    record: JsonObject
    time_ns: int
    provider: str | None
    visible_at_s: float


class Stream:
    """One (account, log type). Keys >= 0 are generated records, keys < 0 injected ones."""

    def __init__(
        self,
        series: Series,
        build: RecordBuilder,
        provider_ids: tuple[str, ...],
        now_s: float,
    ) -> None:
        self._series = series
        self._build = build
        self._provider_ids = provider_ids
        self._injected: dict[int, _Injected] = {}
        self._pending: list[tuple[float, int]] = []
        self.providers: Counter[str | None] = Counter(provider_ids[i] for i in series.providers)
        now_ns = int(now_s * NANOSECONDS)
        cut = bisect_right(series.times, now_ns)
        hidden = {
            key
            for key, delay in series.delays.items()
            if key < cut and series.times[key] / NANOSECONDS + delay > now_s
        }
        if hidden:
            visible = [key for key in range(cut) if key not in hidden]
            self.times = array("q", (series.times[key] for key in visible))
            self.keys = array("q", visible)
        else:
            self.times = series.times[:cut]
            self.keys = array("q", range(cut))
        self._pending = [(self._generated_visible_at(key), key) for key in range(cut, len(series.times))]
        self._pending.extend((self._generated_visible_at(key), key) for key in hidden)
        heapq.heapify(self._pending)

    def _generated_visible_at(self, key: int) -> float:
        return self._series.times[key] / NANOSECONDS + self._series.delays.get(key, 0.0)

    def time_of(self, key: int) -> int:
        return self._series.times[key] if key >= 0 else self._injected[key].time_ns

    def promote(self, now_s: float) -> None:
        """Move every record whose moment has come into the sorted, visible arrays."""
        pending = self._pending
        while pending and pending[0][0] <= now_s:
            _, key = heapq.heappop(pending)
            time_ns = self.time_of(key)
            # After its equals: a record that shows up late never reorders what a client already paged past.
            position = bisect_right(self.times, time_ns)
            self.times.insert(position, time_ns)
            self.keys.insert(position, key)

    def add(
        self, record: Mapping[str, object], time_ns: int, visible_at_s: float, provider: str | None
    ) -> None:
        key = -1 - len(self._injected)
        self._injected[key] = _Injected(dict(record), time_ns, provider, visible_at_s)
        self.providers[provider] += 1
        heapq.heappush(self._pending, (visible_at_s, key))

    def window(self, since_ns: int | None, until_ns: int | None) -> range:
        """Positions of visible records with ``since <= time < until``."""
        low = 0 if since_ns is None else bisect_left(self.times, since_ns)
        high = len(self.times) if until_ns is None else bisect_left(self.times, until_ns)
        return range(low, max(low, high))

    def record(self, key: int) -> JsonObject:
        if key < 0:
            return dict(self._injected[key].record)
        series = self._series
        provider = series.providers[key] if series.providers else 0
        return self._build(key, series.times[key], series.digits[key], provider)

    def record_at(self, position: int) -> JsonObject:
        return self.record(self.keys[position])

    def provider_at(self, position: int) -> str | None:
        key = self.keys[position]
        if key < 0:
            return self._injected[key].provider
        return self._provider_ids[self._series.providers[key]] if self._provider_ids else None

    def visible_at(self, key: int) -> float:
        """When the record of ``key`` becomes visible (epoch seconds on the simulator's clock): what a
        freshness benchmark measures delivery delays from."""
        return self._injected[key].visible_at_s if key < 0 else self._generated_visible_at(key)

    def every_key(self) -> Iterator[int]:
        """Visible and pending keys in time order (ties: visible before pending, then by key)."""
        pending = sorted(key for _, key in self._pending)
        merged = [(t, 0, i, k) for i, (t, k) in enumerate(zip(self.times, self.keys, strict=True))]
        merged.extend((self.time_of(key), 1, 0, key) for key in pending)
        merged.sort()
        return (key for *_, key in merged)

    def __len__(self) -> int:
        return len(self.times) + len(self._pending)


class RecordStore:
    """Every stream of every account, each built the first time something reads it."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self.directories: dict[str, Directory] = {
            account: build_directory(config.seed, account, config.scim_identity_providers)
            for account in config.accounts
        }
        self._streams: dict[tuple[str, str], Stream] = {}

    def stream(self, account_id: str, log_type: str) -> Stream:
        """The stream, with records whose moment has come made visible."""
        now = self._clock()
        stream = self._streams.get((account_id, log_type))
        if stream is None:
            stream = self._create(account_id, log_type, now)
            self._streams[(account_id, log_type)] = stream
        stream.promote(now)
        return stream

    def _create(self, account_id: str, log_type: str, now: float) -> Stream:
        if account_id not in self.directories:
            raise KeyError(f"account {account_id} is not simulated")
        if log_type not in LOG_TYPES:
            raise KeyError(f"log type {log_type!r} is not one of {', '.join(LOG_TYPES)}")
        config = self.config
        directory = self.directories[account_id]
        start, end = config.window
        start_ns, end_ns = from_datetime(start), from_datetime(end)
        minutes = (end_ns - start_ns) / NANOSECONDS / 60
        rng = random.Random(f"{config.seed}:{account_id}:{log_type}:series")
        if log_type == ACCESS_REQUESTS:
            count = round(config.access_per_minute * minutes)
            series = generate_series(rng, start_ns, end_ns, count, config.profile, providers=0)
            access = AccessRequestFactory(config.seed, account_id, directory, config.profile)
            return Stream(series, lambda k, t, d, _p: access.record(k, t, d), (), now)
        if log_type == AUDIT_LOGS:
            count = round(config.audit_per_minute * minutes)
            series = generate_series(rng, start_ns, end_ns, count, config.profile, providers=0)
            audit = AuditLogFactory(config.seed, account_id, directory, config.profile)
            return Stream(series, lambda k, t, d, _p: audit.record(k, t, d), (), now)
        count = round(config.scim_per_minute * minutes)
        provider_ids = tuple(provider.id for provider in directory.scim_providers)
        series = generate_series(rng, start_ns, end_ns, count, config.profile, len(provider_ids))
        scim = ScimUpdateFactory(config.seed, account_id, directory, config.profile)
        return Stream(series, scim.record, provider_ids, now)

    def add(
        self, account_id: str, log_type: str, records: Iterable[Mapping[str, object]], visible_after: float
    ) -> int:
        stream = self.stream(account_id, log_type)
        now = self._clock()
        added = 0
        for record in records:
            value = time_value(log_type, record)
            parsed = parse_rfc3339(value) if isinstance(value, str) else None
            # A record without a usable time was, as far as the API is concerned, logged when it arrived.
            time_ns = parsed if parsed is not None else int(now * NANOSECONDS)
            provider = record.get("idp_id") if log_type == SCIM_UPDATES else None
            stream.add(record, time_ns, now + visible_after, provider if isinstance(provider, str) else None)
            added += 1
        stream.promote(now)
        return added

    def records(self, account_id: str, log_type: str) -> list[JsonObject]:
        stream = self.stream(account_id, log_type)
        return [stream.record(key) for key in stream.every_key()]

    def visibility(self, account_id: str, log_type: str) -> list[tuple[JsonObject, float, float]]:
        """Every record, visible or not, in time order, with its time and the moment it becomes
        visible (epoch seconds; the time is where the API files it, also for one without a time)."""
        stream = self.stream(account_id, log_type)
        return [
            (stream.record(key), stream.time_of(key) / NANOSECONDS, stream.visible_at(key))
            for key in stream.every_key()
        ]

    def generate_all(self) -> None:
        for account in self.config.accounts:
            for log_type in LOG_TYPES:
                self.stream(account, log_type)
