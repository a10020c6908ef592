"""The composition root: configuration wired into running parts, and the one way they run.

Streams read Cloudflare and hand what they read to their checkpointers, which feed one pipeline
that fans out to the sinks and commit behind the acknowledgements. Reading happens during a term of
leadership: with FORWARDER_LEADER_ELECTION, while this replica holds the Lease; without it, the
replica leads alone, from start to end, on the same path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from forwarder.builders import make_client, make_pipeline, scim_preparer, stream_options
from forwarder.checkpoints import CheckpointStore, checkpoint_store
from forwarder.checkpoints.guarded import LeaderGuardedCheckpoints
from forwarder.coordination.always_leading import AlwaysLeading
from forwarder.coordination.lease import Term
from forwarder.pipeline.checkpointer import Checkpointer
from forwarder.pipeline.fan_out import Pipeline
from forwarder.pipeline.instruments import PipelineInstruments
from forwarder.records import LogType
from forwarder.scrubbing import Scrubber
from forwarder.settings import Config, Settings
from forwarder.sinks.base import Sink
from forwarder.source.client import CloudflareClient
from forwarder.source.identity_providers import ScimIdentityProviders
from forwarder.source.instruments import SourceInstruments
from forwarder.source.stream_state import StreamOptions, stream_key
from forwarder.source.streams import Stream
from forwarder.stopping import until_stopped
from forwarder.telemetry import Telemetry

if TYPE_CHECKING:
    # Built by the command line only with FORWARDER_LEADER_ELECTION: never imported without it.
    from forwarder.coordination.leader import LeaderElector

__all__ = ["Election", "Forwarder", "Parts"]

log = logging.getLogger(__name__)


class Election(Protocol):
    """What the run asks of leader election (``LeaderElector``, or ``AlwaysLeading`` without it)."""

    async def run(self) -> None: ...
    async def leading(self) -> Term: ...
    def is_leader(self) -> bool: ...
    def ensure_leading(self) -> None: ...
    async def release(self) -> None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    """What a caller (a test, `check`, `demo`) supplies instead of what the settings would build."""

    sinks: Sequence[Sink] | None = None
    checkpoints: CheckpointStore | None = None
    client: CloudflareClient | None = None
    telemetry: Telemetry | None = None
    leadership: LeaderElector | None = None
    # The moment FORWARDER_START_AT counts back from; None: now.
    now: datetime | None = None


@dataclass
class Forwarder:
    """Everything one process runs: streams feeding one pipeline that fans out to the sinks."""

    settings: Settings
    client: CloudflareClient
    pipeline: Pipeline
    checkpoints: CheckpointStore
    streams: list[Stream] = field(default_factory=list)
    # Each stream's commits, by stream key: made afresh with every term.
    checkpointers: dict[str, Checkpointer] = field(default_factory=dict)
    telemetry: Telemetry = field(default_factory=Telemetry)
    # The Lease this replica campaigns for, as /status shows it; None without leader election.
    leadership: LeaderElector | None = None
    # What the run follows: the Lease elector, or one that always leads.
    election: Election = field(default_factory=AlwaysLeading)
    # What /status and /readyz pass their text through: the configured secrets never leave.
    scrubber: Scrubber = field(default_factory=Scrubber)
    # Why the run is ending on an error, for /readyz while the process shuts down.
    failure: str | None = None

    @classmethod
    def build(cls, config: Config, parts: Parts | None = None) -> Forwarder:
        parts = parts if parts is not None else Parts()
        settings = config.settings
        telemetry = parts.telemetry if parts.telemetry is not None else Telemetry()
        source = telemetry.instruments(SourceInstruments)
        election: Election = parts.leadership if parts.leadership is not None else AlwaysLeading()
        sinks = parts.sinks if parts.sinks is not None else [sink.build() for sink in config.sinks]
        store = parts.checkpoints if parts.checkpoints is not None else checkpoint_store(settings)
        forwarder = cls(
            settings,
            parts.client if parts.client is not None else make_client(settings, telemetry=source),
            # A replica that may have lost its lease starts no delivery: two must never ship at once.
            make_pipeline(
                settings,
                sinks,
                telemetry=telemetry.instruments(PipelineInstruments),
                may_send=election.is_leader,
            ),
            LeaderGuardedCheckpoints(store, election),
            telemetry=telemetry,
            leadership=parts.leadership,
            election=election,
            scrubber=Scrubber.from_config(config),
        )
        # A client handed in may have been built with instruments of its own: observe this one.
        source.observe_client(forwarder.client)
        forwarder._add_streams(stream_options(settings, parts.now or datetime.now(UTC)), source)
        return forwarder

    def _add_streams(self, options: StreamOptions, instruments: SourceInstruments) -> None:
        """A stream per owned account and log type; the streams of one account share its IdP list."""
        settings = self.settings
        prepare = scim_preparer(settings)
        for account_id in settings.owned_account_ids():
            idps = ScimIdentityProviders(
                self.client, account_id, settings.scim_idp_ids, settings.idp_refresh_interval
            )
            for log_type in map(LogType, settings.log_types):
                self.streams.append(
                    Stream(
                        self.client,
                        account_id,
                        log_type,
                        options,
                        self._checkpointer(stream_key(account_id, log_type), options),
                        idps=idps,
                        prepare=prepare,
                        telemetry=instruments,
                    )
                )

    def _checkpointer(self, key: str, options: StreamOptions) -> Checkpointer:
        """A stream's fresh way into the pipeline, and the commits that follow its acknowledgements."""
        checkpointer = Checkpointer(
            key,
            self.checkpoints,
            self.pipeline.submit,
            reread_span=options.reread_span,
            checkpoint_ids=options.checkpoint_ids,
        )
        self.checkpointers[key] = checkpointer
        return checkpointer

    async def run(self, *, until_caught_up: bool, stop: asyncio.Event | None = None) -> None:
        """Read every stream and ship it; return when caught up (``once``) or when ``stop`` is set.

        On ``stop`` (SIGTERM), in any state, start-up included, reading ends at once; what is
        already in flight gets FORWARDER_SHUTDOWN_GRACE seconds to be delivered and committed.
        Whatever is left is read again at the next start. A Cloudflare error a person must fix, a
        stopped sink in ``once``, or a background task that fails for good ends the run with it.
        """
        stop = stop if stop is not None else asyncio.Event()
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self.client.close)
            if not await until_stopped(self._start(stack), stop):
                log.info("stopping: stopped during start-up")
                return
            background = [asyncio.create_task(self._report_progress())]
            stack.callback(lambda: [task.cancel() for task in background])
            await self._read_while_leading(until_caught_up, stop)

    async def _start(self, stack: AsyncExitStack) -> None:
        """Everything before reading: the checkpoint store, the sinks, one probe of every stream."""
        # Closed even when opening fails or is cancelled: the contract allows it.
        stack.push_async_callback(self.checkpoints.close)
        await self.checkpoints.open()
        stack.push_async_callback(self.election.close)
        stack.push_async_callback(self.pipeline.close)
        await self.pipeline.open()
        # A wrong token or a missing permission is reported now, not after the first settle delay.
        async with asyncio.TaskGroup() as group:
            for stream in self.streams:
                group.create_task(stream.probe())

    def _raise_failure(self, task: asyncio.Future[Any]) -> None:
        """Re-raise what ended ``task``, noting it for /readyz first (the process is about to exit)."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failure = f"{type(error).__name__}: {error}"
            raise error

    async def _read_while_leading(self, until_caught_up: bool, stop: asyncio.Event) -> None:
        """Campaign for the Lease; read the streams during each term of leadership, from the committed
        checkpoints; release the Lease once reading and committing have stopped."""
        leadership = self.election
        campaign = asyncio.create_task(leadership.run(), name="leader election")
        try:
            while True:
                waiting = asyncio.create_task(leadership.leading())
                stopping = asyncio.create_task(stop.wait())
                try:
                    await asyncio.wait({campaign, waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiting.cancel()
                    stopping.cancel()
                if campaign.done():
                    campaign.result()  # a person must fix something (RBAC, token): say so
                if stop.is_set():
                    return
                if waiting.done() and not waiting.cancelled():
                    finished = await self._read_during(waiting.result(), campaign, until_caught_up, stop)
                    if finished:
                        return
        finally:
            campaign.cancel()
            await asyncio.gather(campaign, return_exceptions=True)
            await leadership.release()

    async def _read_during(
        self, term: Term, campaign: asyncio.Task[None], until_caught_up: bool, stop: asyncio.Event
    ) -> bool:
        """Read until the term ends (False) or until stopped or caught up (True)."""
        # Fresh streams: the previous leader may have moved the checkpoints since this replica led.
        for stream in self.streams:
            stream.restart(self._checkpointer(stream.key, stream.options))
        commits = [
            asyncio.create_task(self.checkpointers[stream.key].run(stream.progress))
            for stream in self.streams
        ]
        readers = asyncio.create_task(self._read_all(until_caught_up))
        lost = asyncio.create_task(term.lost.wait())
        stopping = asyncio.create_task(stop.wait())
        watched = {readers, lost, stopping, campaign}
        if until_caught_up:
            watched.add(asyncio.create_task(self._raise_when_a_sink_stops()))
        watched.update(commits)
        ours = [*commits, *(watched - {campaign})]
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            # Reading stops at once, whatever ended the wait: no request after a stop or a lost lease.
            readers.cancel()
            if lost in done:
                await self._abandon_deliveries()
                return False
            for task in done:
                if task is not stopping and task is not readers:
                    self._raise_failure(task)
            if readers in done:
                self._raise_failure(readers)
            ending = (
                self._drain_for_shutdown()
                if stopping in done
                else self._flush(until_caught_up, stop, commits)
            )
            finishing = asyncio.ensure_future(ending)
            await asyncio.wait({finishing, lost}, return_when=asyncio.FIRST_COMPLETED)
            if not finishing.done():
                finishing.cancel()
                await self._abandon_deliveries()
            await asyncio.gather(finishing, return_exceptions=True)
            if finishing.done() and not finishing.cancelled() and finishing.exception() is not None:
                finishing.result()
            return True
        finally:
            for task in ours:
                task.cancel()
            # Stopped for good before the lease can be released or taken by another replica.
            await asyncio.gather(*ours, return_exceptions=True)

    async def _abandon_deliveries(self) -> None:
        """The lease is lost: stop shipping too, not only reading. What is queued or in flight and
        not yet acknowledged is dropped uncommitted; the next leader reads it again."""
        abandoned = await self.pipeline.abandon()
        log.warning(
            "stopped reading and shipping: this replica no longer holds the lease; the uncommitted "
            "windows will be read again by the next leader",
            extra={"streams": len(self.streams), "events_abandoned": abandoned},
        )

    async def _read_all(self, until_caught_up: bool) -> None:
        async with asyncio.TaskGroup() as group:
            for stream in self.streams:
                group.create_task(stream.read(until_caught_up=until_caught_up), name=stream.key)

    async def _raise_when_a_sink_stops(self) -> None:
        await self.pipeline.stopped_event.wait()
        self.pipeline.raise_if_stopped()

    async def _flush(
        self, until_caught_up: bool, stop: asyncio.Event, commits: list[asyncio.Task[None]]
    ) -> None:
        """Deliver and commit everything read; a stop (SIGTERM) meanwhile leaves it the grace period,
        a stopped sink in ``once`` or a failed commit loop ends it with the error."""
        flushing = asyncio.ensure_future(self._flush_streams())
        stopping = asyncio.ensure_future(stop.wait())
        watched = {flushing, stopping, *commits}
        if until_caught_up:
            watched.add(asyncio.ensure_future(self._raise_when_a_sink_stops()))
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in watched - set(commits):
                if task is not flushing:
                    task.cancel()
        if flushing in done:
            return
        flushing.cancel()
        for task in done:
            if task is not stopping:
                self._raise_failure(task)
        if stopping in done:
            await self._drain_for_shutdown()

    async def _flush_streams(self) -> None:
        await asyncio.gather(*(checkpointer.flush() for checkpointer in self.checkpointers.values()))

    async def _drain_for_shutdown(self) -> None:
        grace = self.settings.shutdown_grace
        log.info("stopping: reading ended, delivering what is in flight", extra={"grace_seconds": grace})
        try:
            async with asyncio.timeout(grace):
                await self._flush_streams()
        except TimeoutError:
            left = sum(worker.status.inflight_events for worker in self.pipeline.workers)
            log.warning(
                "shutdown grace period over; undelivered events will be read again at the next start",
                extra={"events_in_flight": left},
            )

    def totals(self) -> Mapping[str, int]:
        return {stream.key: stream.progress.events for stream in self.streams}

    async def _report_progress(self) -> None:
        """A line per stream that is catching up, at a steady cadence: events, rate, time left."""
        while True:
            await asyncio.sleep(self.settings.progress_interval)
            for stream in self.streams:
                progress = stream.progress
                if progress.caught_up or progress.position is None or progress.started_position is None:
                    continue
                elapsed = max(time.monotonic() - progress.started, 1e-6)
                covered = (progress.position - progress.started_position).total_seconds()
                behind = (datetime.now(UTC) - progress.position).total_seconds() - self.settings.settle_delay
                left = behind / (covered / elapsed) if covered > 0 else None
                log.info(
                    "backfill progress",
                    extra={
                        "stream": stream.key,
                        "events": progress.events,
                        "events_per_second": round(progress.events / elapsed, 1),
                        "position": progress.position.isoformat(),
                        "seconds_left": round(left) if left is not None else "unknown",
                    },
                )
