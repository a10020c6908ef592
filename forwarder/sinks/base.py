"""The Sink contract: what every sink receives, returns and raises, and how sinks are found.

A sink knows one protocol. The pipeline owns batching, retrying, dead letters and checkpoints
(as OpenTelemetry's BatchSpanProcessor owns batching for its exporters); a sink only encodes a
batch, sends it, and classifies the answer into exactly three kinds of failure:

* retryable: :class:`RetryableError` for the whole batch, or ``SendResult.retry`` for some events;
* rejected: ``SendResult.rejected``: this event can never be accepted (goes to the dead letters);
* configuration: :class:`SinkConfigError`: stop this sink, keep the checkpoint, say so loudly.

A protocol sink decides which by a *classifier*, a pure function from a receiver's answer to an
:class:`Outcome`; its :class:`Verdict` is the one vocabulary every classifier answers in.

A sink never sleeps between attempts or retries by itself. Waiting that is part of the protocol
(Splunk indexer acknowledgements) is not a retry and may happen inside ``send``.

Sinks are registered in the entry-point group ``forwarder.sinks`` so a third party can ship one
in a package of its own::

    [project.entry-points."forwarder.sinks"]
    mysink = "mypackage.mysink:MySink"
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

import orjson
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from forwarder.config_sources import EnvironmentSettings
from forwarder.formats import DocumentFormat, Format
from forwarder.records import LogType, Record

ENTRY_POINT_GROUP = "forwarder.sinks"


@dataclass(slots=True)
class Event:
    """A record mapped to one format: what a sink encodes for the wire. Treat it as immutable.

    Only the encoded document is kept, not the dict it was encoded from: thousands of events wait
    in the in-flight windows, and keeping their dicts (a dozen containers each) alive made every
    garbage collection walk them; that cost more than the mapping itself (benchmarks/RESULTS.md).
    Not a frozen dataclass, whose ``__init__`` costs four times as much, for the same reason.
    """

    record: Record
    # The document as JSON, encoded once per format and shared by every sink that uses it.
    body: bytes

    @property
    def document(self) -> Any:
        """The document, decoded again: for the rare paths (dead letters, checks), never per event."""
        return orjson.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.record.event_id

    @property
    def log_type(self) -> LogType:
        return self.record.log_type

    @property
    def time(self) -> datetime:
        return self.record.time


@dataclass(frozen=True, slots=True)
class Rejection:
    event: Event
    reason: str


@dataclass(slots=True)
class SendResult:
    """The answer to one ``send``: every event of the batch is in exactly one of three places.

    Delivered events are the batch minus ``rejected`` minus ``retry``.
    """

    rejected: list[Rejection] = field(default_factory=list)
    retry: list[Event] = field(default_factory=list)
    retry_reason: str = ""
    # Seconds the receiver asked us to wait before sending ``retry`` again, if it said.
    retry_after: float | None = None


class Verdict(StrEnum):
    """What a classifier makes of an answer to a request, or to one event of it."""

    DELIVERED = "delivered"
    # Later: a busy, recovering or unreachable receiver. The pipeline sends again after a wait.
    RETRY = "retry"
    # This event can never be accepted: it goes to the dead letters with the reason.
    REJECT = "reject"
    # The request is larger than the receiver (or a proxy) takes: smaller requests will pass.
    TOO_LARGE = "too_large"
    # Nothing will pass until a person changes a setting: SinkConfigError.
    CONFIG = "config"
    # Answers to the probes of `check`, never to a batch: a health endpoint says the receiver
    # takes events; an empty request was refused as empty, so the credentials were accepted.
    HEALTHY = "healthy"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A classified answer: its verdict, words for a person, and the wait the receiver asked for.

    A sink whose protocol says more about an answer (HEC's code and ack id) subclasses it.
    """

    verdict: Verdict
    reason: str = ""
    # Seconds from a ``Retry-After`` header (forwarder.retry.retry_after), if the receiver sent one.
    retry_after: float | None = None


class SinkError(Exception):
    """Base of the failures a sink raises for a whole batch."""


class RetryableError(SinkError):
    """The whole batch may succeed later: network errors, timeouts, 429, 5xx, a busy receiver."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class SinkConfigError(SinkError):
    """Nothing will succeed until a person fixes the configuration (bad token, unknown index, TLS).

    The message is read by a person: say what is wrong and which setting to change.
    """


# One meaning for every sink, whose settings may only change the default: the pipeline cuts batches
# by the events' bytes, and a sink that wraps each event on the wire cuts again by what it sends
# (forwarder/sinks/_http/request_size.py), so no request is larger than this either.
BATCH_MAX_BYTES = (
    "Most uncompressed bytes sent at once: a batch holds at most this many bytes of encoded events (with a "
    "line break each), and an HTTP sink sends it in several requests if, with what its protocol wraps "
    "around each event, it is larger. An event larger on its own goes alone."
)


class SinkSettings(EnvironmentSettings):
    """Settings every sink has. A sink's own model subclasses this with ``env_prefix`` set to
    ``FORWARDER_<NAME>__`` so that its variables read ``FORWARDER_FILE__PATH`` and so on."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    format: DocumentFormat = Field(
        default="raw", description="Output format of this sink: `raw`, `ecs`, `ocsf` or `asim`."
    )
    batch_max_events: int = Field(default=500, ge=1, description="Most events in one batch.")
    batch_max_bytes: int = Field(default=1_000_000, ge=1024, description=BATCH_MAX_BYTES)
    batch_max_age: float = Field(
        default=1.0,
        gt=0,
        description="Seconds a partly filled batch waits for more events before it is sent.",
    )
    concurrency: int = Field(default=1, ge=1, le=64, description="Most batches being sent at once.")
    max_inflight_events: int = Field(
        default=5000,
        ge=1,
        description="Most events queued or being sent; when full, the streams feeding this sink pause.",
    )
    max_inflight_bytes: int = Field(
        default=16_000_000,
        ge=1024,
        description="Most encoded bytes queued or being sent; when full, the streams feeding this "
        "sink pause.",
    )


class Sink(abc.ABC):
    """One protocol to one receiver. Subclasses set ``name`` and ``settings_model``."""

    name: ClassVar[str]
    settings_model: ClassVar[type[SinkSettings]]
    # The log types this sink can carry (a destination per log type, say); None is every one. Checked at
    # start against FORWARDER_LOG_TYPES, so a log type without a destination is refused, not misdelivered.
    log_types: ClassVar[frozenset[LogType] | None] = None

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings

    @property
    def format(self) -> Format:
        return self.settings.format

    async def open(self) -> None:  # noqa: B027 - optional hook, most sinks need nothing here
        """Prepare connections. Raise SinkConfigError for settings that cannot work."""

    @abc.abstractmethod
    async def send(self, batch: Sequence[Event]) -> SendResult:
        """Deliver ``batch``; raise RetryableError or SinkConfigError for the whole batch."""

    async def check(self) -> None:  # noqa: B027 - a sink with nothing to probe passes
        """Probe the receiver for `check`: reachability, credentials, the right to write."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Called once, after the last send."""

    def describe(self) -> str:
        """One line for logs and `check`: where this sink sends, never a secret."""
        return f"{self.name} ({self.format})"

    def warnings(self) -> list[str]:
        """What a person should know about settings that work but are risky, one sentence each.

        Credentials and events sent unencrypted (``http://``), TLS verification turned off, a
        deprecated variable name. Read from the settings only (nothing is sent), never a secret.
        A sink logs them when it opens; `check` prints them. Empty (the default) when all is well.
        """
        return []


@cache
def _entry_points() -> dict[str, EntryPoint]:
    # The registry: the one piece of module-level state (cached once per process).
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_sinks() -> list[str]:
    return sorted(_entry_points())


def load_sink_class(name: str) -> type[Sink]:
    """The Sink class registered under ``name``; ValueError naming the known sinks otherwise."""
    found = _entry_points().get(name)
    if found is None:
        known = ", ".join(available_sinks()) or "none"
        raise ValueError(f"unknown sink {name!r}; installed sinks: {known}")
    sink_class = found.load()
    if not (isinstance(sink_class, type) and issubclass(sink_class, Sink)):
        raise ValueError(f"entry point {name!r} ({found.value}) is not a forwarder Sink class")
    return sink_class
