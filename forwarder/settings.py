"""Every setting of the forwarder, read from environment variables (and ``<NAME>_FILE``).

The README's variable reference is generated from these models (``make docs``), so the
``description`` of a field is user documentation. Each sink has its own model next to its code
(``FORWARDER_<SINK>__*``); :func:`load_config` reads the main model and the chosen sinks' models
together so that a person sees every problem in one message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from forwarder.config_sources import EnvironmentSettings, ValueFileError, env_name
from forwarder.records import LogType
from forwarder.sinks.base import Sink, SinkSettings, load_sink_class

ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d`` (and ``ms``) to a timedelta."""
    match = DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 24h or 7d")
    return timedelta(seconds=float(match.group(1)) * DURATION_UNITS[match.group(2)])


def seconds(value: Any) -> Any:
    """Accept a plain number of seconds or a duration string for a float-seconds setting."""
    if isinstance(value, str) and DURATION.match(value.strip()):
        return parse_duration(value).total_seconds()
    return value


def split_list(value: Any) -> Any:
    """Comma- or space-separated lists: ``a,b`` reads better in a manifest than JSON."""
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value.strip()) if item]
    return value


Seconds = Annotated[float, Field(gt=0)]
StringList = Annotated[list[str], NoDecode]


class Settings(EnvironmentSettings):
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
    account_ids: StringList = Field(
        default_factory=list,
        validation_alias="FORWARDER_ACCOUNT_IDS",
        description="Cloudflare account ids to read, comma-separated (32 hex characters each). Required.",
    )
    log_types: Annotated[list[LogType], NoDecode] = Field(
        default_factory=lambda: [LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES],
        validation_alias="FORWARDER_LOG_TYPES",
        description="Log types to read, comma-separated: `access_requests`, `scim_updates`.",
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
        default=1200,
        ge=1,
        validation_alias="FORWARDER_RATE_LIMIT_REQUESTS",
        description="Requests per credential per rate-limit period the forwarder allows itself. "
        "Cloudflare allows 1200 per 5 minutes per user, shared with the dashboard: lower it "
        "when people or other tools use the same user.",
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
        description="Seconds an event keeps being retried after a retryable failure before it is "
        "dead-lettered as expired.",
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

    # Kubernetes: the `kubernetes` checkpoint store, leader election and sharding.
    kubernetes_configmap: str = Field(
        default="cloudflare-siem-forwarder-checkpoints",
        validation_alias="FORWARDER_KUBERNETES_CONFIGMAP",
        description="ConfigMap of the `kubernetes` checkpoint store; the forwarder creates it on its first "
        "commit. Replicas and shards of one installation share it.",
    )
    kubernetes_namespace: str = Field(
        default="",
        validation_alias="FORWARDER_KUBERNETES_NAMESPACE",
        description="Namespace of the ConfigMap and the Lease. Empty: the pod's own namespace.",
    )
    kubernetes_api_url: str = Field(
        default="",
        validation_alias="FORWARDER_KUBERNETES_API_URL",
        description="URL of the Kubernetes API. Empty: in-cluster, from KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT.",
    )
    kubernetes_service_account_dir: Path = Field(
        default=Path("/var/run/secrets/kubernetes.io/serviceaccount"),
        validation_alias="FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR",
        description="Directory of the service-account `token`, `ca.crt` and `namespace` files.",
    )
    pod_name: str = Field(
        default="",
        validation_alias="FORWARDER_POD_NAME",
        description="This pod's name: the Lease holder identity (with a random suffix) and, with sharding, "
        "the StatefulSet ordinal at its end. Empty: the HOSTNAME variable, which Kubernetes sets to it.",
    )
    leader_election: bool = Field(
        default=False,
        validation_alias="FORWARDER_LEADER_ELECTION",
        description="`true`: replicas campaign for a Lease and only its holder reads streams (the others "
        "wait to take over). Needs FORWARDER_CHECKPOINT_STORE=kubernetes.",
    )
    lease_name: str = Field(
        default="cloudflare-siem-forwarder",
        validation_alias="FORWARDER_LEASE_NAME",
        description="Name of the Lease (`coordination.k8s.io/v1`); with sharding, `<name>-<ordinal>` "
        "per shard.",
    )
    lease_duration: Seconds = Field(
        default=15.0,
        validation_alias="FORWARDER_LEASE_DURATION",
        description="Seconds a Lease that is not renewed stays with its holder; a standby takes over "
        "after it. Written to the Lease in whole seconds (rounded up).",
    )
    lease_renew_deadline: Seconds = Field(
        default=10.0,
        validation_alias="FORWARDER_LEASE_RENEW_DEADLINE",
        description="Seconds after its last renewal at which a leader that cannot renew (the API does not "
        "answer it) stops reading. Shorter than FORWARDER_LEASE_DURATION: it stops before anyone takes over.",
    )
    lease_retry_period: Seconds = Field(
        default=2.0,
        validation_alias="FORWARDER_LEASE_RETRY_PERIOD",
        description="Seconds between renewals, and between a standby's attempts to acquire.",
    )
    shards: int = Field(
        default=1,
        ge=1,
        validation_alias="FORWARDER_SHARDS",
        description="Number of shards (StatefulSet replicas) the accounts are spread over: shard `n` reads "
        "the accounts whose position in FORWARDER_ACCOUNT_IDS modulo this is `n`, under its own Lease. "
        "Needs FORWARDER_LEADER_ELECTION=true.",
    )
    shard_ordinal: int | None = Field(
        default=None,
        ge=0,
        validation_alias="FORWARDER_SHARD_ORDINAL",
        description="This replica's shard. Empty: the number at the end of the pod name "
        "(`forwarder-2` is 2).",
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
        "max_window",
        "progress_interval",
        "max_event_age",
        "shutdown_grace",
        "retry_initial_delay",
        "retry_max_delay",
        "ready_cloudflare_max_age",
        "lease_duration",
        "lease_renew_deadline",
        "lease_retry_period",
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
        from forwarder.kubernetes.leader import LeaseTimings

        problems = []
        if self.leader_election:
            if self.checkpoint_store != "kubernetes":
                problems.append(
                    "FORWARDER_LEADER_ELECTION: needs FORWARDER_CHECKPOINT_STORE=kubernetes, so that the "
                    "replica taking over resumes where the last leader committed"
                )
            problems += LeaseTimings(
                self.lease_duration, self.lease_renew_deadline, self.lease_retry_period
            ).problems()
        if self.shards > 1:
            if not self.leader_election:
                problems.append("FORWARDER_SHARDS: needs FORWARDER_LEADER_ELECTION=true (a Lease per shard)")
            ordinal = self.ordinal()
            if ordinal is None:
                problems.append(
                    f"FORWARDER_SHARD_ORDINAL: not set, and the pod name {self.resolved_pod_name()!r} does "
                    "not end in -<number> (run the shards as a StatefulSet, or set it)"
                )
            elif ordinal >= self.shards:
                problems.append(
                    f"FORWARDER_SHARD_ORDINAL: {ordinal} is not below FORWARDER_SHARDS ({self.shards})"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def resolved_pod_name(self) -> str:
        return self.pod_name or os.environ.get("HOSTNAME", "")

    def ordinal(self) -> int | None:
        """This replica's shard, from FORWARDER_SHARD_ORDINAL or the StatefulSet pod name."""
        if self.shard_ordinal is not None:
            return self.shard_ordinal
        from forwarder.kubernetes.shards import ordinal_from_pod_name

        return ordinal_from_pod_name(self.resolved_pod_name())

    def owned_account_ids(self) -> list[str]:
        """The accounts this replica reads: all of them, or its shard's."""
        if self.shards <= 1:
            return list(self.account_ids)
        from forwarder.kubernetes.shards import shard_accounts

        return shard_accounts(self.account_ids, self.shards, self.ordinal() or 0)

    def start_time(self, now: datetime) -> datetime:
        return resolve_start(self.start_at, now)


def resolve_start(value: str, now: datetime) -> datetime:
    """``now``, a duration back from ``now``, or an RFC 3339 time."""
    text = value.strip()
    if text == "now":
        return now
    if DURATION.match(text):
        return now - parse_duration(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither `now`, a duration such as 24h, nor an RFC 3339 time"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ConfigurationError(Exception):
    """Every configuration problem at once, one line each, naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {line}" for line in problems))
        self.problems = problems


@dataclass(frozen=True)
class SinkConfig:
    sink_class: type[Sink]
    settings: SinkSettings

    def build(self) -> Sink:
        return self.sink_class(self.settings)


@dataclass(frozen=True)
class Config:
    settings: Settings
    sinks: tuple[SinkConfig, ...]


def describe_errors(model: type[BaseSettings], error: ValidationError) -> list[str]:
    """pydantic's errors as ``VARIABLE: what is wrong`` lines (never the value: it may be secret)."""
    by_alias = {(field.alias or name): name for name, field in model.model_fields.items()}
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        location = item["loc"]
        message = str(item["msg"]).removeprefix("Value error, ")
        if not location:
            lines.extend(message.splitlines())
            continue
        key = str(location[0])
        name = by_alias.get(key, key)
        field = model.model_fields.get(name)
        variable = env_name(model, name, field) if field is not None else key.upper()
        lines.append(f"{variable}: {message}")
    return lines


def read_settings(model: type[BaseSettings]) -> tuple[Any, list[str]]:
    """Instantiate ``model`` from the environment; the problems instead of an exception."""
    try:
        return model(), []
    except ValidationError as error:
        return None, describe_errors(model, error)
    except ExceptionGroup as group:
        return None, [str(item) for item in group.exceptions if isinstance(item, ValueFileError)]


def load_config() -> Config:
    """Read and check all settings; raise ConfigurationError listing every problem."""
    settings, problems = read_settings(Settings)
    names = settings.sinks if settings is not None else split_list_env_sinks()
    sinks: list[SinkConfig] = []
    for name in names:
        try:
            sink_class = load_sink_class(name)
        except (ValueError, ImportError) as error:
            problems.append(f"FORWARDER_SINKS: sink {name!r} cannot be loaded: {error}")
            continue
        sink_settings, sink_problems = read_settings(sink_class.settings_model)
        problems.extend(sink_problems)
        if sink_settings is not None:
            sinks.append(SinkConfig(sink_class, sink_settings))
    if problems:
        raise ConfigurationError(problems)
    assert settings is not None
    return Config(settings=settings, sinks=tuple(sinks))


def split_list_env_sinks() -> list[str]:
    """The sink names from the environment when the main settings did not validate."""
    value = split_list(os.environ.get("FORWARDER_SINKS", "file"))
    return [str(item) for item in value] if isinstance(value, list) else ["file"]
