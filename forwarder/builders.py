"""Small builders of the composition root (:mod:`forwarder.app`), each from the settings: the
Cloudflare client, the SCIM body preparation, the pipeline and the streams' options. `check` and the
tests build these the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.fan_out import Pipeline
from forwarder.pipeline.instruments import PipelineInstruments
from forwarder.retry import Backoff
from forwarder.settings import ConfigurationError, Settings
from forwarder.sinks.base import Sink
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.instruments import SourceInstruments
from forwarder.source.ratelimit import RateLimiter
from forwarder.source.stream_state import StreamOptions
from forwarder.tls import TlsSettingError, TlsVariables, client_context


def make_client(
    settings: Settings, *, attempts: int | None = None, telemetry: SourceInstruments | None = None
) -> CloudflareClient:
    """The Cloudflare API client; ConfigurationError naming CLOUDFLARE_TLS_CA_FILE if it cannot be used."""
    try:
        # The OS trust store, or only the CAs of CLOUDFLARE_TLS_CA_FILE (a TLS-inspecting proxy's).
        tls = client_context(
            settings.cloudflare_tls_ca_file,
            what="the Cloudflare API",
            variables=TlsVariables(ca_file="CLOUDFLARE_TLS_CA_FILE"),
        )
    except TlsSettingError as error:
        raise ConfigurationError([str(error)]) from None
    return CloudflareClient(
        settings.cloudflare_api_base_url,
        Credentials(
            token=settings.cloudflare_api_token,
            api_key=settings.cloudflare_api_key,
            email=settings.cloudflare_email,
        ),
        limiter=RateLimiter(
            settings.rate_limit_requests,
            settings.rate_limit_period,
            burst=settings.rate_limit_burst,
            reserve=settings.rate_limit_reserve,
        ),
        backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
        timeout=settings.request_timeout,
        attempts=attempts,
        telemetry=telemetry,
        tls=tls,
    )


def scim_preparer(settings: Settings) -> Any:
    """Redaction and truncation of SCIM bodies, applied before any sink sees a record."""
    try:
        from forwarder.source.scim_bodies import DEFAULT_REDACT_KEYS, prepare_scim_record
    except ImportError:  # the SCIM body handling is not installed in this build
        return None
    keys = frozenset(key.lower() for key in (*DEFAULT_REDACT_KEYS, *settings.scim_redact_keys))
    return functools.partial(
        prepare_scim_record,
        redact_keys=keys,
        max_body_bytes=settings.scim_body_max_bytes,
        unknown_body=settings.scim_unknown_body,
    )


def make_pipeline(
    settings: Settings, sinks: Sequence[Sink], *, telemetry: PipelineInstruments, may_send: Callable[[], bool]
) -> Pipeline:
    """The fan-out to ``sinks``, with the dead-letter file and the retry policy of the settings."""
    return Pipeline(
        sinks,
        DeadLetters.from_settings(settings),
        backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
        max_event_age=settings.max_event_age,
        telemetry=telemetry,
        may_send=may_send,
    )


def stream_options(settings: Settings, now: datetime) -> StreamOptions:
    """How every stream reads; FORWARDER_START_AT counts back from ``now``."""
    return StreamOptions(
        poll_interval=settings.poll_interval,
        overlap=settings.overlap,
        settle_delay=settings.settle_delay,
        max_window=settings.max_window,
        page_size=settings.page_size,
        max_pages=settings.max_pages,
        start=settings.start_time(now),
        late_horizon=settings.late_horizon,
        reread_interval=settings.late_reread_interval,
        checkpoint_ids=settings.checkpoint_ids,
        page_depth=settings.page_depth,
    )
