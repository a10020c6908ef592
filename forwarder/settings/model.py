"""The forwarder's own settings model (each sink has its own, next to its code)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from forwarder.records import LogType
from forwarder.settings.kubernetes import KubernetesSettings
from forwarder.settings.values import (
    ACCOUNT_ID,
    Seconds,
    StringList,
    credential,
    resolve_start,
    seconds,
    split_list,
)


class Settings(KubernetesSettings):
    """The forwarder's own settings; each sink reads ``FORWARDER_<SINK>__*`` in its own model."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # Cloudflare credentials and API.
    cloudflare_api_token: SecretStr | None = Field(
        default=None,
        validation_alias="CLOUDFLARE_API_TOKEN",
        description="API token (preferred). Needs Access: Audit Logs Read, Access: SCIM Logs Read and, "
        "unless FORWARDER_SCIM_IDP_IDS is set, the Identity Providers read permission.",
    )
    cloudflare_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="CLOUDFLARE_API_KEY",
        description="Global API key, with CLOUDFLARE_EMAIL, instead of a token.",
    )
    cloudflare_email: str | None = Field(
        default=None,
        validation_alias="CLOUDFLARE_EMAIL",
        description="Account email that goes with CLOUDFLARE_API_KEY.",
    )
    cloudflare_api_base_url: str = Field(
        default="https://api.cloudflare.com/client/v4",
        validation_alias="CLOUDFLARE_API_BASE_URL",
        description="Base URL of the Cloudflare API (the simulator and tests point it elsewhere).",
    )
    cloudflare_tls_ca_file: Path | None = Field(
        default=None,
        validation_alias="CLOUDFLARE_TLS_CA_FILE",
        description="PEM file of the CAs that may sign the Cloudflare API's certificate (a TLS-inspecting "
        "proxy's CA, say); replaces the operating system's trust store, which is used when empty.",
    )
    account_ids: StringList = Field(
        default_factory=list,
        validation_alias="FORWARDER_ACCOUNT_IDS",
        description="Cloudflare account ids to read, comma-separated (32 hex characters each). Required.",
    )
    log_types: Annotated[list[LogType], NoDecode] = Field(
        default_factory=lambda: [log_type for log_type in LogType if log_type.description.on_by_default],
        validation_alias="FORWARDER_LOG_TYPES",
        description="Log types to read, comma-separated: `access_requests`, `scim_updates`, "
        "`audit_logs` (account audit logs; off by default, needs `Account Settings Read`).",
    )
    scim_idp_ids: StringList = Field(
        default_factory=list,
        validation_alias="FORWARDER_SCIM_IDP_IDS",
        description="SCIM-enabled identity provider ids. Empty: discovered per account from the "
        "identity provider list (those with SCIM enabled) and refreshed periodically.",
    )
    idp_refresh_interval: Seconds = Field(
        default=3600.0,
        validation_alias="FORWARDER_IDP_REFRESH_INTERVAL",
        description="Seconds between re-reads of the identity provider list (discovery only).",
    )
    request_timeout: Seconds = Field(
        default=30.0,
        validation_alias="FORWARDER_REQUEST_TIMEOUT",
        description="Seconds before a Cloudflare API request times out (and is retried).",
    )
    rate_limit_requests: int = Field(
        default=1000,
        ge=1,
        validation_alias="FORWARDER_RATE_LIMIT_REQUESTS",
        description="Requests per credential per rate-limit period the forwarder allows itself. "
        "Cloudflare allows 1200 per 5 minutes per user, shared with the dashboard: the default "
        "leaves 200 for people and other tools using the same user; lower it when they need more.",
    )
    rate_limit_burst: int = Field(
        default=20,
        ge=1,
        le=100,
        validation_alias="FORWARDER_RATE_LIMIT_BURST",
        description="Requests that may start at once; beyond it requests are paced at "
        "FORWARDER_RATE_LIMIT_REQUESTS per FORWARDER_RATE_LIMIT_PERIOD, spread over the period "
        "(Cloudflare also allows at most 200 requests per second per IP).",
    )
    rate_limit_reserve: int = Field(
        default=100,
        ge=0,
        validation_alias="FORWARDER_RATE_LIMIT_RESERVE",
        description="Requests of what the API says remains of the user's budget (`Ratelimit` / "
        "`X-RateLimit-Remaining` headers) that the forwarder leaves to others: when the dashboard or "
        "another replica has spent more, it waits for the server's reset instead of using them.",
    )
    rate_limit_period: Seconds = Field(
        default=300.0,
        validation_alias="FORWARDER_RATE_LIMIT_PERIOD",
        description="Length of the rate-limit period in seconds.",
    )

    # Polling.
    poll_interval: Seconds = Field(
        default=60.0,
        validation_alias="FORWARDER_POLL_INTERVAL",
        description="Seconds between polls of a stream that has caught up.",
    )
    overlap: float = Field(
        default=120.0,
        ge=0,
        validation_alias="FORWARDER_OVERLAP",
        description="Seconds each live poll re-reads before the checkpoint, for logs that arrive "
        "late; repeats are dropped by event id.",
    )
    settle_delay: float = Field(
        default=60.0,
        ge=0,
        validation_alias="FORWARDER_SETTLE_DELAY",
        description="Seconds a window's end stays behind now, so that slow-to-appear logs are in it.",
    )
    late_horizon: float = Field(
        default=900.0,
        ge=0,
        validation_alias="FORWARDER_LATE_HORIZON",
        description="Seconds after their own time that rows may still appear in the API and be "
        "delivered: every FORWARDER_LATE_REREAD_INTERVAL a stream reads this span plus one interval "
        "before its position again (so a row appearing just after a re-read is still in the next) and "
        "ships what it had not seen. Rows later than this may not be read. 0 turns it off.",
    )
    late_reread_interval: Seconds = Field(
        default=300.0,
        validation_alias="FORWARDER_LATE_REREAD_INTERVAL",
        description="Seconds between trailing re-reads of the late horizon. Each costs at least one "
        "request per stream (one per page of rows in the horizon): 12 per stream per hour by default.",
    )
    checkpoint_ids: int = Field(
        default=2000,
        ge=0,
        validation_alias="FORWARDER_CHECKPOINT_IDS",
        description="Event ids of the re-read span (the larger of FORWARDER_OVERLAP and "
        "FORWARDER_LATE_HORIZON) kept with each checkpoint, 16 bytes each, so that a graceful "
        "restart delivers nothing twice. Past it the oldest are not kept, and a restart may deliver "
        "those again (a warning says so).",
    )
    max_window: Seconds = Field(
        default=3600.0,
        validation_alias="FORWARDER_MAX_WINDOW",
        description="Longest time span read in one window; a backfill commits after each window.",
    )
    page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        validation_alias="FORWARDER_PAGE_SIZE",
        description="Records asked for per page (`per_page`); Cloudflare allows up to 1000 for SCIM.",
    )
    page_depth: int = Field(
        default=4,
        ge=1,
        le=16,
        validation_alias="FORWARDER_PAGE_DEPTH",
        description="Page requests of one window in flight at once, so that one stream can spend "
        "the rate budget despite the round trip; only for windows no row can appear in any more "
        "(older than FORWARDER_LATE_HORIZON), and never past the last page the API reported.",
    )
    max_pages: int = Field(
        default=1000,
        ge=1,
        validation_alias="FORWARDER_MAX_PAGES",
        description="Most pages read in one window; past it the window ends at the last record "
        "read, so a server that ignores `page` cannot make the forwarder loop.",
    )
    start_at: str = Field(
        default="now",
        validation_alias="FORWARDER_START_AT",
        description="Where a stream without a checkpoint starts: `now`, a duration back from now "
        "(`24h`, `7d`) or an RFC 3339 time.",
    )
    progress_interval: Seconds = Field(
        default=10.0,
        validation_alias="FORWARDER_PROGRESS_INTERVAL",
        description="Seconds between backfill progress lines (events, rate, time left).",
    )

    # SCIM request bodies.
    scim_redact_keys: StringList = Field(
        default_factory=list,
        validation_alias="FORWARDER_SCIM_REDACT_KEYS",
        description="Extra keys to redact in SCIM request bodies, beside passwords, tokens and secrets.",
    )
    scim_unknown_body: Literal["redact", "drop"] = Field(
        default="redact",
        validation_alias="FORWARDER_SCIM_UNKNOWN_BODY",
        description="What happens to a SCIM request body that is neither JSON, form-encoded, header lines "
        "nor markup: `redact` well-known secret shapes (bearer tokens, JWTs, cloud keys, `key=value` pairs "
        "whose key is on the redaction list) and ship the rest, or `drop` the body whole.",
    )
    scim_body_max_bytes: int = Field(
        default=65536,
        ge=256,
        validation_alias="FORWARDER_SCIM_BODY_MAX_BYTES",
        description="SCIM request bodies longer than this are truncated, with a marker.",
    )

    # Delivery.
    sinks: StringList = Field(
        default_factory=lambda: ["file"],
        validation_alias="FORWARDER_SINKS",
        description="Sinks to ship to, comma-separated: `file`, `splunk_hec`, `elasticsearch`, "
        "`syslog`, or any sink installed under the `forwarder.sinks` entry point.",
    )
    max_event_age: Seconds = Field(
        default=86400.0,
        validation_alias="FORWARDER_MAX_EVENT_AGE",
        description="Seconds an event may wait for a sink (queued, sent and retried) before it is "
        "dead-lettered as expired. Counted from when the event was queued, not from its own time: "
        "a backfill of older records is delivered like any other.",
    )
    retry_initial_delay: Seconds = Field(
        default=0.5,
        validation_alias="FORWARDER_RETRY_INITIAL_DELAY",
        description="First backoff in seconds; backoff doubles with full jitter.",
    )
    retry_max_delay: Seconds = Field(
        default=60.0,
        validation_alias="FORWARDER_RETRY_MAX_DELAY",
        description="Longest backoff in seconds between attempts (a `Retry-After` may ask for more, "
        "up to 300 s).",
    )
    shutdown_grace: Seconds = Field(
        default=20.0,
        validation_alias="FORWARDER_SHUTDOWN_GRACE",
        description="Seconds a SIGTERM leaves for in-flight events to be delivered and committed.",
    )
    dead_letter_path: Path = Field(
        default=Path("state/dead-letters.ndjson"),
        validation_alias="FORWARDER_DEAD_LETTER_PATH",
        description="NDJSON file for events a sink rejected, with the sink and the reason.",
    )

    dead_letter_max_bytes: int = Field(
        default=100_000_000,
        ge=4096,
        validation_alias="FORWARDER_DEAD_LETTER_MAX_BYTES",
        description="Size at which the dead-letter file is rotated to `<path>.1`.",
    )
    dead_letter_backups: int = Field(
        default=5,
        ge=1,
        validation_alias="FORWARDER_DEAD_LETTER_BACKUPS",
        description="Rotated dead-letter files kept; deleting the oldest is logged as an error.",
    )
    dead_letter_mode: Literal["0600", "0640"] = Field(
        default="0600",
        validation_alias="FORWARDER_DEAD_LETTER_MODE",
        description="Permissions of the dead-letter files (whole records, PII included): owner only, or "
        "`0640` to let the file's group read them. Their directory is created 0700 (0750).",
    )

    # State.
    checkpoint_store: Literal["file", "memory", "kubernetes"] = Field(
        default="file",
        validation_alias="FORWARDER_CHECKPOINT_STORE",
        description="Where stream positions are kept: `file` (survives restarts of one pod with its "
        "volume), `kubernetes` (a ConfigMap: survives rescheduling anywhere; needed by leader election "
        "and sharding) or `memory`.",
    )
    checkpoint_path: Path = Field(
        default=Path("state/checkpoints.json"),
        validation_alias="FORWARDER_CHECKPOINT_PATH",
        description="File of the `file` checkpoint store, written atomically.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        validation_alias="FORWARDER_LOG_LEVEL",
        description="Least severe log level printed.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        validation_alias="FORWARDER_LOG_FORMAT",
        description="`json`: one JSON object per line; `text`: `time level logger: message key=value`; "
        "`auto`: text when the log stream is a terminal, JSON otherwise. `run` and `once` log to "
        "standard output, or to standard error when the file sink writes events there "
        "(FORWARDER_FILE__PATH=-); the other commands log to standard error.",
    )

    # Observability.
    health_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias="FORWARDER_HEALTH_PORT",
        description="Port of the HTTP endpoints `/healthz`, `/readyz`, `/status` and `/metrics` "
        "(Prometheus) of `run` and `once`; 0 turns them off.",
    )
    health_address: str = Field(
        default="0.0.0.0",  # noqa: S104 - the kubelet probes and Prometheus reach the pod's address
        validation_alias="FORWARDER_HEALTH_ADDRESS",
        description="Address the HTTP endpoints listen on; `127.0.0.1` keeps them local.",
    )
    ready_cloudflare_max_age: Seconds = Field(
        default=600.0,
        validation_alias="FORWARDER_READY_CLOUDFLARE_MAX_AGE",
        description="`/readyz` fails when Cloudflare has not answered a request for this many seconds "
        "(never less than twice FORWARDER_POLL_INTERVAL plus FORWARDER_REQUEST_TIMEOUT).",
    )

    @field_validator(
        "idp_refresh_interval",
        "request_timeout",
        "rate_limit_period",
        "poll_interval",
        "overlap",
        "settle_delay",
        "late_horizon",
        "late_reread_interval",
        "max_window",
        "progress_interval",
        "max_event_age",
        "shutdown_grace",
        "retry_initial_delay",
        "retry_max_delay",
        "ready_cloudflare_max_age",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return seconds(value)

    @field_validator("account_ids", "log_types", "scim_idp_ids", "scim_redact_keys", "sinks", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("sinks")
    @classmethod
    def _unique_sinks(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("account_ids")
    @classmethod
    def _account_ids(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if not ACCOUNT_ID.match(item)]
        if bad:
            raise ValueError(f"not a Cloudflare account id (32 lowercase hex characters): {', '.join(bad)}")
        return list(dict.fromkeys(value))

    @field_validator("cloudflare_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("cloudflare_api_token", "cloudflare_api_key", mode="before")
    @classmethod
    def _credential(cls, value: Any) -> Any:
        return credential(value)

    @field_validator("cloudflare_email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        return credential(value)

    @field_validator("start_at")
    @classmethod
    def _start_at(cls, value: str) -> str:
        resolve_start(value, datetime.now(UTC))
        return value

    @model_validator(mode="after")
    def _credentials_and_required(self) -> Settings:
        problems = []
        if not self.account_ids:
            problems.append("FORWARDER_ACCOUNT_IDS: set at least one Cloudflare account id")
        if self.cloudflare_api_token is None:
            if self.cloudflare_api_key is None and self.cloudflare_email is None:
                problems.append(
                    "CLOUDFLARE_API_TOKEN: set an API token (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL)"
                )
            elif self.cloudflare_api_key is None:
                problems.append("CLOUDFLARE_API_KEY: required with CLOUDFLARE_EMAIL")
            elif self.cloudflare_email is None:
                problems.append("CLOUDFLARE_EMAIL: required with CLOUDFLARE_API_KEY")
        if not self.sinks:
            problems.append("FORWARDER_SINKS: name at least one sink")
        if self.retry_initial_delay > self.retry_max_delay:
            problems.append("FORWARDER_RETRY_INITIAL_DELAY: larger than FORWARDER_RETRY_MAX_DELAY")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _coordination(self) -> Settings:
        if self.leader_election and self.checkpoint_store != "kubernetes":
            raise ValueError(
                "FORWARDER_LEADER_ELECTION: needs FORWARDER_CHECKPOINT_STORE=kubernetes, so that the "
                "replica taking over resumes where the last leader committed"
            )
        return self

    def owned_account_ids(self) -> list[str]:
        """The accounts this replica reads: all of them, or its shard's."""
        if self.shards <= 1:
            return list(self.account_ids)
        from forwarder.settings.shards import shard_accounts

        return shard_accounts(self.account_ids, self.shards, self.ordinal() or 0)

    def start_time(self, now: datetime) -> datetime:
        return resolve_start(self.start_at, now)
