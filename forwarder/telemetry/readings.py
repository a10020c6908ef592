"""What telemetry reads of the running components, as protocols, and the ages derived from them.

The gauges (``forwarder/source/instruments.py``, ``forwarder/pipeline/instruments.py``) and the
``/status`` board (:mod:`forwarder.telemetry.status`) read the status objects the components keep
anyway, through these protocols: telemetry imports none of the components (they import telemetry).
Every member is a read-only property, so the owners' plain (mutable) attributes satisfy them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar, Protocol

from forwarder.records import LogType


class StreamProgressView(Protocol):
    """A stream's progress (``StreamProgress``)."""

    @property
    def events(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def windows(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def unreadable_seconds(self) -> int: ...
    @property
    def position(self) -> datetime | None: ...
    @property
    def committed(self) -> datetime | None: ...
    @property
    def newest_delivered(self) -> datetime | None: ...
    @property
    def caught_up(self) -> bool: ...


class StreamView(Protocol):
    """One stream (``Stream``): which account and log type, and how far it got."""

    @property
    def key(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def log_type(self) -> LogType: ...
    @property
    def progress(self) -> StreamProgressView: ...


class SinkStatusView(Protocol):
    """A sink's status (``SinkStatus``); a dataclass, since ``/status`` lists all of its fields."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def last_error(self) -> str: ...
    @property
    def inflight_events(self) -> int: ...
    @property
    def inflight_bytes(self) -> int: ...


class ClientView(Protocol):
    """The Cloudflare client's last answer (``CloudflareClient``); times are ``time.monotonic()``."""

    @property
    def last_success(self) -> float | None: ...
    @property
    def last_request(self) -> float | None: ...
    @property
    def last_error(self) -> str: ...
    @property
    def server_remaining(self) -> int | None: ...


def seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def lag(progress: StreamProgressView, now: datetime) -> float | None:
    """Now minus the time of the newest event every sink has acknowledged (or dead-lettered)."""
    return seconds_since(progress.newest_delivered, now)


def checkpoint_age(progress: StreamProgressView, now: datetime) -> float | None:
    """Now minus the committed position: how far behind real time the delivered data ends."""
    return seconds_since(progress.committed, now)
