"""What the forwarder is doing, read from the status objects it keeps anyway.

:class:`StatusBoard` answers the three questions of the HTTP endpoints: is the process alive
(``/healthz``), is it doing its job (``/readyz``), and what exactly is each stream and sink doing
(``/status``). It only reads: the streams' :class:`StreamProgress`, the sinks' :class:`SinkStatus`
and the Cloudflare client's last answer. It is read from the endpoint thread while the event loop
writes; every value read is a single attribute, so a reader sees one consistent value of each.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from forwarder import __version__
from forwarder.telemetry.readings import ClientView, SinkStatusView, StreamView, checkpoint_age, lag

# What the board reads of the forwarder as a whole, as protocols (see forwarder.telemetry.readings).


class SinkWorkerView(Protocol):
    """One sink's worker (``SinkWorker``)."""

    @property
    def status(self) -> SinkStatusView: ...


class PipelineView(Protocol):
    @property
    def workers(self) -> Sequence[SinkWorkerView]: ...


class LeadershipView(Protocol):
    """Leader election (``LeaderElector``): which Lease, who this replica is, whether it leads."""

    @property
    def name(self) -> str: ...
    @property
    def identity(self) -> str: ...
    def is_leader(self) -> bool: ...


class StatusSettingsView(Protocol):
    """The settings that set how long a silence from Cloudflare is still ready."""

    @property
    def ready_cloudflare_max_age(self) -> float: ...
    @property
    def poll_interval(self) -> float: ...
    @property
    def request_timeout(self) -> float: ...


class ScrubberView(Protocol):
    """Takes the configured secrets out of what the endpoints show (``Scrubber``)."""

    def text(self, value: str) -> str: ...
    def document(self, value: dict[str, Any]) -> dict[str, Any]: ...


class ForwarderView(Protocol):
    """What the board reads from a running forwarder (``app.Forwarder``)."""

    @property
    def settings(self) -> StatusSettingsView: ...
    @property
    def client(self) -> ClientView: ...
    @property
    def pipeline(self) -> PipelineView: ...
    @property
    def streams(self) -> Sequence[StreamView]: ...
    @property
    def leadership(self) -> LeadershipView | None: ...
    @property
    def scrubber(self) -> ScrubberView: ...
    @property
    def failure(self) -> str | None: ...


# The event loop runs a heartbeat every second; nothing the forwarder does blocks it for long
# (file writes go to a thread, every request has a timeout), so this long a silence means stuck.
STALL_AFTER = 30.0
HEARTBEAT_INTERVAL = 1.0


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class StatusBoard:
    def __init__(
        self,
        forwarder: ForwarderView,
        *,
        stall_after: float = STALL_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.forwarder = forwarder
        self.stall_after = stall_after
        self.monotonic = monotonic
        self.now = now
        self.started = now()
        self.last_beat = monotonic()
        settings = forwarder.settings
        # A caught-up stream asks Cloudflare once per poll interval: never expect answers faster.
        self.cloudflare_max_age = max(
            settings.ready_cloudflare_max_age, 2 * settings.poll_interval + settings.request_timeout
        )

    def beat(self) -> None:
        self.last_beat = self.monotonic()

    def liveness(self) -> list[str]:
        """Problems that a restart would fix: the event loop has stopped running."""
        silent = self.monotonic() - self.last_beat
        if silent > self.stall_after:
            return [f"event loop stuck: no heartbeat for {silent:.0f} s (more than {self.stall_after:g} s)"]
        return []

    def readiness(self) -> list[str]:
        """Why the forwarder is not doing its job, one sentence per problem; empty when it is.

        Scrubbed: a sentence may quote an error that quoted a credential.
        """
        return [self.forwarder.scrubber.text(problem) for problem in self._problems()]

    def _problems(self) -> list[str]:
        problems = self.liveness()
        if self.forwarder.failure is not None:
            problems.append(f"stopping on an error: {self.forwarder.failure}")
        problems += self._cloudflare_problems()
        for worker in self.forwarder.pipeline.workers:
            status = worker.status
            if status.state == "starting":
                problems.append(f"sink {status.name}: starting")
            elif status.state == "config_error":
                problems.append(f"sink {status.name}: configuration error: {status.last_error}")
        return problems

    def _cloudflare_problems(self) -> list[str]:
        client = self.forwarder.client
        last_error = f" (last error: {client.last_error})" if client.last_error else ""
        if client.last_success is None:
            return [f"Cloudflare has not answered yet{last_error}"]
        silent = self.monotonic() - client.last_success
        # Streams paused by a full sink ask nothing: only a silence while asking is a problem.
        asking = client.last_request is not None and client.last_request > client.last_success
        if asking and silent > self.cloudflare_max_age:
            return [
                f"Cloudflare has not answered for {silent:.0f} s "
                f"(more than {self.cloudflare_max_age:g} s){last_error}"
            ]
        return []

    def snapshot(self) -> dict[str, Any]:
        """``/status``: every stream's checkpoint, position and lag; every sink's state and counters."""
        now = self.now()
        client = self.forwarder.client
        problems = self.readiness()
        return self.forwarder.scrubber.document(
            {
                "version": __version__,
                "started": iso(self.started),
                "ready": not problems,
                "problems": problems,
                "cloudflare": {
                    "last_success_seconds_ago": rounded(
                        None if client.last_success is None else self.monotonic() - client.last_success
                    ),
                    "last_error": client.last_error or None,
                    "rate_limit_remaining": client.server_remaining,
                },
                "leadership": self._leadership(),
                "streams": [self._stream(stream, now) for stream in self.forwarder.streams],
                "sinks": [dataclasses.asdict(worker.status) for worker in self.forwarder.pipeline.workers],
            }
        )

    def _leadership(self) -> dict[str, Any] | None:
        """With leader election: which Lease, who this replica is, and whether it reads now.

        A standby is ready (it is doing its job: waiting to take over) but reads nothing.
        """
        elector = self.forwarder.leadership
        if elector is None:
            return None
        return {"lease": elector.name, "identity": elector.identity, "leading": elector.is_leader()}

    @staticmethod
    def _stream(stream: StreamView, now: datetime) -> dict[str, Any]:
        progress = stream.progress
        return {
            "stream": stream.key,
            "account_id": stream.account_id,
            "log_type": stream.log_type.value,
            "checkpoint": iso(progress.committed),
            "position": iso(progress.position),
            "newest_delivered_event": iso(progress.newest_delivered),
            "lag_seconds": rounded(lag(progress, now)),
            "checkpoint_age_seconds": rounded(checkpoint_age(progress, now)),
            "caught_up": progress.caught_up,
            "events": progress.events,
            "duplicates": progress.duplicates,
            "windows": progress.windows,
            "late_events": progress.late,
            "unreadable_seconds": progress.unreadable_seconds,
        }
