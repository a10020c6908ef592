"""Wires configuration into running parts: the client, the streams, the pipeline and the sinks."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forwarder.checkpoints import CheckpointStore, FileCheckpointStore, checkpoint_store
from forwarder.cloudflare.client import CloudflareClient, Credentials
from forwarder.cloudflare.identity_providers import ScimIdentityProviders
from forwarder.cloudflare.ratelimit import RateLimiter
from forwarder.cloudflare.streams import Stream, StreamOptions
from forwarder.dead_letters import DeadLetters
from forwarder.pipeline import Pipeline
from forwarder.records import LogType
from forwarder.retry import Backoff
from forwarder.settings import Config, Settings
from forwarder.sinks.base import Sink

log = logging.getLogger(__name__)


def make_client(settings: Settings, *, attempts: int | None = None) -> CloudflareClient:
    return CloudflareClient(
        settings.cloudflare_api_base_url,
        Credentials(
            token=settings.cloudflare_api_token,
            api_key=settings.cloudflare_api_key,
            email=settings.cloudflare_email,
        ),
        limiter=RateLimiter(settings.rate_limit_requests, settings.rate_limit_period),
        backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
        timeout=settings.request_timeout,
        attempts=attempts,
    )


def scim_preparer(settings: Settings) -> Any:
    """Redaction and truncation of SCIM bodies, applied before any sink sees a record."""
    try:
        from forwarder.scim_bodies import DEFAULT_REDACT_KEYS, prepare_scim_record
    except ImportError:  # the SCIM body handling is not installed in this build
        return None
    keys = frozenset(key.lower() for key in (*DEFAULT_REDACT_KEYS, *settings.scim_redact_keys))
    return functools.partial(
        prepare_scim_record, redact_keys=keys, max_body_bytes=settings.scim_body_max_bytes
    )


@dataclass
class Forwarder:
    """Everything one process runs: streams feeding one pipeline that fans out to the sinks."""

    settings: Settings
    client: CloudflareClient
    pipeline: Pipeline
    checkpoints: CheckpointStore
    streams: list[Stream] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        sinks: list[Sink] | None = None,
        checkpoints: CheckpointStore | None = None,
        now: datetime | None = None,
        client: CloudflareClient | None = None,
    ) -> Forwarder:
        settings = config.settings
        client = client if client is not None else make_client(settings)
        built_sinks = sinks if sinks is not None else [sink.build() for sink in config.sinks]
        pipeline = Pipeline(
            built_sinks,
            DeadLetters(settings.dead_letter_path),
            backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
            max_event_age=settings.max_event_age,
        )
        store = checkpoints if checkpoints is not None else checkpoint_store(settings)
        options = StreamOptions(
            poll_interval=settings.poll_interval,
            overlap=settings.overlap,
            settle_delay=settings.settle_delay,
            max_window=settings.max_window,
            page_size=settings.page_size,
            max_pages=settings.max_pages,
            start=settings.start_time(now or datetime.now(UTC)),
        )
        forwarder = cls(settings, client, pipeline, store)
        prepare = scim_preparer(settings)
        for account_id in settings.account_ids:
            idps = ScimIdentityProviders(
                client, account_id, settings.scim_idp_ids, settings.idp_refresh_interval
            )
            for log_type in settings.log_types:
                forwarder.streams.append(
                    Stream(
                        client,
                        account_id,
                        LogType(log_type),
                        options,
                        store,
                        pipeline.deliver,
                        idps=idps,
                        prepare=prepare,
                    )
                )
        return forwarder

    async def run(self, *, until_caught_up: bool) -> None:
        """Run every stream; the first failure stops them all (a person has to look)."""
        if isinstance(self.checkpoints, FileCheckpointStore):
            self.checkpoints.check_writable()
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self.client.close)
            await self.pipeline.open()
            stack.push_async_callback(self.pipeline.close)
            # A wrong token or a missing permission is reported now, not after the first settle delay.
            async with asyncio.TaskGroup() as group:
                for stream in self.streams:
                    group.create_task(stream.probe())
            reporter = asyncio.create_task(self._report_progress())
            try:
                async with asyncio.TaskGroup() as group:
                    for stream in self.streams:
                        group.create_task(stream.run(until_caught_up=until_caught_up), name=stream.key)
            finally:
                reporter.cancel()

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


def install_signal_handlers(task: asyncio.Task[Any]) -> None:
    """SIGTERM and SIGINT cancel the run: in-flight deliveries end, nothing uncommitted is kept."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
