"""Settings of the Splunk HEC sink: every ``FORWARDER_SPLUNK_HEC__*`` variable."""

from __future__ import annotations

from typing import Any

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from forwarder.records import LogType
from forwarder.settings.values import credential
from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks.base import BATCH_MAX_BYTES, SinkSettings
from forwarder.tls import former_name_conflicts

ENV_PREFIX = "FORWARDER_SPLUNK_HEC__"


def env_var(field_name: str) -> str:
    """The variable a person sets for ``field_name``: used in every message that names a setting."""
    return f"{ENV_PREFIX}{field_name.upper()}"


class SplunkHecSettings(SinkSettings, HttpTlsSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    url: AnyHttpUrl = Field(
        description=(
            "Base URL of the HTTP Event Collector, scheme and port included, "
            "e.g. `https://splunk.example.com:8088`. Paths `/services/collector/...` are added to it."
        )
    )
    token: SecretStr = Field(
        description="HEC token, sent as `Authorization: Splunk <token>`. Also read from `..._TOKEN_FILE`."
    )
    # HEC's own default limit on a request (max_content_length) is far larger, but proxies and
    # Splunk Cloud commonly cap bodies near 1 MB, and smaller requests retry more cheaply.
    batch_max_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description=f"{BATCH_MAX_BYTES} Here the wrapping is the HEC event object (default 1 MB).",
    )
    gzip: bool = Field(default=True, description="Compress request bodies (`Content-Encoding: gzip`).")
    # Level 1 compresses these documents about 10x for 3 µs each; level 6, 13-16x for about 7 µs, which
    # made the whole forwarder 20 % slower with HEC's defaults (benchmarks/RESULTS.md, round 3).
    gzip_level: int = Field(
        default=1, ge=1, le=9, description="gzip level, 1 (fastest, default) to 9 (smallest)."
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description=(
            "Most batches being sent at once, and most HEC requests in flight (also the connection pool). "
            "With acknowledgement on, raise it: a batch holds its place while it waits for its ack."
        ),
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for connecting, sending or an answer before retrying.",
    )
    host: str = Field(
        default="",
        description="`host` of every event. Empty (default): this machine's host name, the pod name in "
        "Kubernetes.",
    )
    source: str = Field(
        default="",
        description=(
            "`source` of every event. Empty (default): `cloudflare:<account_id>:<log_type>`, "
            "so that a search can tell accounts apart."
        ),
    )
    sourcetype_access_requests: str = Field(
        default="cloudflare:access", description="`sourcetype` of Access authentication events."
    )
    sourcetype_scim_updates: str = Field(
        default="cloudflare:access:scim", description="`sourcetype` of Access SCIM provisioning events."
    )
    sourcetype_audit_logs: str = Field(
        default="cloudflare:audit", description="`sourcetype` of account audit log events."
    )
    index_access_requests: str = Field(
        default="",
        description="`index` of Access authentication events. Empty (default): the token's default index.",
    )
    index_scim_updates: str = Field(
        default="",
        description="`index` of SCIM provisioning events. Empty (default): the token's default index.",
    )
    index_audit_logs: str = Field(
        default="",
        description="`index` of account audit log events. Empty (default): the token's default index.",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Indexed fields added to every event, as a flat JSON object of strings, "
            'e.g. `{"env":"prod"}`. Splunk rejects nested values (HEC code 15).'
        ),
    )
    acknowledgements: bool = Field(
        default=False,
        description=(
            "Use indexer acknowledgement: a batch counts as delivered only once Splunk says it is indexed. "
            "The token must have indexer acknowledgement enabled (Splunk Enterprise)."
        ),
    )
    ack_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds to wait for an indexer acknowledgement before the batch is sent again.",
    )
    ack_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between two queries of `/services/collector/ack`."
    )

    @model_validator(mode="after")
    def _former_names_agree(self) -> SplunkHecSettings:
        problems = former_name_conflicts(self, env_var)
        if problems:
            # One line each: the loader lists every line as a problem of its own.
            raise ValueError("\n".join(problems))
        return self

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        # A token pasted with its scheme (`Splunk <token>`, as Splunk's docs show it) is the token.
        if isinstance(value, str):
            value = value.strip().removeprefix("Splunk ")
        return credential(value)

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # HEC authenticates with its token alone; a user and password in the URL would be sent
        # as Basic auth in its place, silently.
        if value.username or value.password:
            raise ValueError(
                "must not carry a user or password (the value is not shown): HEC authenticates with "
                "FORWARDER_SPLUNK_HEC__TOKEN; remove them from the URL"
            )
        return value

    def display_url(self) -> str:
        """The URL without any user or password in it: for logs and messages."""
        port = f":{self.url.port}" if self.url.port is not None else ""
        path = (self.url.path or "").rstrip("/")
        return f"{self.url.scheme}://{self.url.host}{port}{path}"

    def sourcetype_for(self, log_type: LogType) -> str:
        sourcetype: str = getattr(self, f"sourcetype_{log_type.value}")
        return sourcetype

    def index_for(self, log_type: LogType) -> str:
        index: str = getattr(self, f"index_{log_type.value}")
        return index
