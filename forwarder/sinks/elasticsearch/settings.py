"""Settings of the Elasticsearch/OpenSearch sink: every ``FORWARDER_ELASTICSEARCH__*`` variable.

Target names are checked here, at start, against the rules Elasticsearch applies to index and data
stream names, so that a typo is reported with the variable to fix instead of as a failed `_bulk`
item after the forwarder has started polling.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from forwarder.formats import DocumentFormat
from forwarder.records import LogType
from forwarder.settings.values import credential
from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks.base import BATCH_MAX_BYTES, SinkSettings
from forwarder.sinks.elasticsearch.cloud_id import CloudIdError, decode_cloud_id
from forwarder.tls import former_name_conflicts, tls_variables, verification_switch

ENV_PREFIX = "FORWARDER_ELASTICSEARCH__"

TargetType = Literal["data_stream", "index"]

# The characters Elasticsearch refuses in index and data stream names (`:` since 7.0).
_FORBIDDEN_NAME_CHARACTERS = frozenset('\\/*?"<>| ,#:')
# The `type` part of Elastic's data stream naming scheme `<type>-<dataset>-<namespace>`.
_DATA_STREAM_TYPES = frozenset({"logs", "metrics", "traces", "synthetics", "profiling"})


def env_var(field_name: str) -> str:
    """The variable a person sets for ``field_name``: used in every message that names a setting."""
    return f"{ENV_PREFIX}{field_name.upper()}"


def index_name_problems(name: str) -> list[str]:
    """What Elasticsearch would refuse in ``name`` as an index or data stream name."""
    problems: list[str] = []
    if not name:
        return ["is empty"]
    if name != name.lower():
        problems.append("must be lowercase")
    bad = sorted({character for character in name if character in _FORBIDDEN_NAME_CHARACTERS})
    if bad:
        problems.append("must not contain " + " ".join(repr(character) for character in bad))
    if name[0] in "-_+":
        problems.append(f"must not start with {name[0]!r}")
    if name in {".", ".."}:
        problems.append("must not be '.' or '..'")
    if len(name.encode("utf-8")) > 255:
        problems.append("must be at most 255 bytes long")
    return problems


def data_stream_name_problems(name: str) -> list[str]:
    """Index name rules plus the data stream naming scheme ``<type>-<dataset>-<namespace>``.

    The scheme is what Elasticsearch's built-in ``logs-*-*`` template and Kibana's data views
    expect; a name outside it would silently become a plain index on a default cluster.
    """
    problems = index_name_problems(name)
    if name.startswith(".ds-"):
        problems.append("must not start with '.ds-' (reserved for backing indices)")
    parts = name.split("-")
    if len(parts) != 3 or not all(parts):
        problems.append(
            "must follow the data stream naming scheme <type>-<dataset>-<namespace>, "
            "e.g. logs-cloudflare.access_requests-default (dataset and namespace contain no '-')"
        )
        return problems
    stream_type, dataset, namespace = parts
    if stream_type not in _DATA_STREAM_TYPES:
        problems.append(f"type {stream_type!r} must be one of {', '.join(sorted(_DATA_STREAM_TYPES))}")
    if len(dataset) > 100:
        problems.append("dataset must be at most 100 characters")
    if len(namespace) > 100:
        problems.append("namespace must be at most 100 characters")
    return problems


class ElasticsearchSettings(SinkSettings, HttpTlsSettings):
    # hide_input_in_errors: a cross-field error would otherwise echo every value, secrets included.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    format: DocumentFormat = Field(
        default="ecs",
        description="Output format of this sink: `ecs` (default, what Kibana and Elastic Security expect), "
        "`ocsf` or `raw`.",
    )
    # Elasticsearch accepts 100 MB per request by default; 10 MB keeps a request quick to retry and
    # is what Elastic recommends as a starting point for bulk sizes.
    batch_max_bytes: int = Field(
        default=10_000_000,
        ge=1024,
        description=f"{BATCH_MAX_BYTES} Here the wrapping is the `_bulk` action line (default 10 MB).",
    )
    url: AnyHttpUrl | None = Field(
        default=None,
        description=(
            "Base URL of the cluster, scheme and port included, e.g. `https://es.example.com:9200`; a path "
            "prefix of a reverse proxy is kept. Set this or `CLOUD_ID`, not both."
        ),
    )
    cloud_id: str | None = Field(
        default=None,
        description="Elastic Cloud ID (`<label>:<base64>` from the deployment page), decoded to the URL.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description=(
            "API key, sent as `Authorization: ApiKey ...`: the `encoded` value Elasticsearch returns, or "
            "`<id>:<api_key>`. Needs `create_doc` (data streams) or `index` on the targets."
        ),
    )
    username: str | None = Field(
        default=None, description="User for HTTP basic auth (OpenSearch, self-managed)."
    )
    password: SecretStr | None = Field(default=None, description="Password of `USERNAME`.")
    bearer_token: SecretStr | None = Field(
        default=None,
        description="Token sent as `Authorization: Bearer ...` (service account tokens, OAuth2 proxies).",
    )
    target_type: TargetType = Field(
        default="data_stream",
        description=(
            "`data_stream` (default): `create` into data streams; a replayed event answers 409 and counts "
            "as delivered. `index`: `index` into plain indices or aliases (a replay overwrites in place)."
        ),
    )
    target_access_requests: str = Field(
        default="logs-cloudflare.access_requests-default",
        description="Data stream (or index) of Access authentication events.",
    )
    target_scim_updates: str = Field(
        default="logs-cloudflare.scim_updates-default",
        description="Data stream (or index) of Access SCIM provisioning events.",
    )
    target_audit_logs: str = Field(
        default="logs-cloudflare.audit_logs-default",
        description="Data stream (or index) of account audit log events. `check` verifies it only when it "
        "is set (the sink cannot see `FORWARDER_LOG_TYPES`, where audit logs are off by default).",
    )
    pipeline: str | None = Field(default=None, description="Ingest pipeline to run on every event, if any.")
    gzip: bool = Field(default=True, description="Compress request bodies (`Content-Encoding: gzip`).")
    gzip_level: int = Field(
        default=1, ge=1, le=9, description="gzip level, 1 (fastest, default) to 9 (smallest)."
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Most `_bulk` requests in flight at once (also the connection pool).",
    )
    request_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to wait for connecting, sending or an answer before retrying.",
    )
    bootstrap_template: bool = Field(
        default=False,
        description=(
            "Install an index template with ECS-typed mappings for the targets if it is missing "
            "(needs the `manage_index_templates` cluster privilege). Required on OpenSearch for data streams."
        ),
    )
    template_name: str = Field(
        default="cloudflare-siem-forwarder", description="Name of the index template that bootstrap installs."
    )
    template_priority: int = Field(
        default=200,
        ge=0,
        description="Priority of that template; above 100 to win over Elasticsearch's built-in `logs-*-*`.",
    )
    template_composed_of: list[str] = Field(
        default_factory=list,
        description=(
            'Component templates the bootstrap template is made of, as a JSON list, e.g. `["logs@settings"]` '
            "to keep Elasticsearch's default lifecycle policy. They must exist."
        ),
    )

    @field_validator("template_name")
    @classmethod
    def _template_name_is_valid(cls, value: str) -> str:
        problems = index_name_problems(value)
        if problems:
            raise ValueError(f"{env_var('template_name')} {value!r}: " + "; ".join(problems))
        return value

    @model_validator(mode="before")
    @classmethod
    def _credentials_in_url(cls, data: Any) -> Any:
        """``https://user:password@host`` is Basic auth, like USERNAME and PASSWORD: taken out of the
        URL into them, so that it is used, shown and scrubbed as those are; never both at once."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        parts = urllib.parse.urlsplit(data["url"])
        if parts.username is None and parts.password is None:
            return data
        if any(data.get(name) is not None for name in ("username", "password")):
            raise ValueError(
                f"{env_var('url')} carries a user and password and {env_var('username')} / "
                f"{env_var('password')} are set too: set the credentials in one place"
            )
        host = parts.netloc.rpartition("@")[2]
        return {
            **data,
            "url": urllib.parse.urlunsplit(parts._replace(netloc=host)),
            "username": urllib.parse.unquote(parts.username or ""),
            "password": urllib.parse.unquote(parts.password or ""),
        }

    @field_validator("api_key", "bearer_token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        return credential(value)

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> Any:
        # A password may hold spaces; never a line break or another control character.
        return credential(value, spaces=True) if value is not None else value

    @model_validator(mode="after")
    def _consistent(self) -> ElasticsearchSettings:
        # Every problem at once: a person fixing a deployment should not discover them one by one.
        problems: list[str] = []
        if (self.url is None) == (self.cloud_id is None):
            problems.append(f"set exactly one of {env_var('url')} and {env_var('cloud_id')}")
        if self.cloud_id is not None:
            try:
                decode_cloud_id(self.cloud_id)
            except CloudIdError as error:
                problems.append(f"{env_var('cloud_id')}: {error}")
        styles = [
            name
            for name, used in (
                ("api_key", self.api_key is not None),
                ("username", self.username is not None or self.password is not None),
                ("bearer_token", self.bearer_token is not None),
            )
            if used
        ]
        if len(styles) > 1:
            problems.append(
                "set only one way to authenticate: " + ", ".join(env_var(name) for name in styles)
            )
        if (self.username is None) != (self.password is None):
            problems.append(f"{env_var('username')} and {env_var('password')} go together")
        for secret_field in ("api_key", "bearer_token", "password"):
            secret: SecretStr | None = getattr(self, secret_field)
            if secret is not None and not secret.get_secret_value().strip():
                problems.append(f"{env_var(secret_field)} must not be empty")
        check = data_stream_name_problems if self.target_type == "data_stream" else index_name_problems
        for log_type in LogType:
            name = self.target_for(log_type)
            found = check(name)
            if found:
                problems.append(f"{env_var('target_' + log_type.value)} {name!r}: " + "; ".join(found))
        problems.extend(former_name_conflicts(self, env_var))
        variables = tls_variables(self, env_var)
        if self.tls_key_file is not None and self.tls_cert_file is None:
            problems.append(f"{variables.key_file} needs {variables.cert_file}")
        if not self.tls_verify and self.tls_ca_file is not None:
            problems.append(
                f"{verification_switch(self, env_var)} and {variables.ca_file} is set: they contradict; "
                "set only one"
            )
        for path_field, variable in (
            ("tls_ca_file", variables.ca_file),
            ("tls_cert_file", variables.cert_file),
            ("tls_key_file", variables.key_file),
        ):
            path: Path | None = getattr(self, path_field)
            if path is not None and not path.is_file():
                problems.append(f"{variable}: {str(path)!r} is not a readable file")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def target_for(self, log_type: LogType) -> str:
        target: str = getattr(self, f"target_{log_type.value}")
        return target

    def checked_targets(self) -> list[str]:
        """The targets `check` verifies and describes: those of the log types read by default, and of
        the others (audit logs) only once their target is set. The sink cannot see FORWARDER_LOG_TYPES;
        without this, a role scoped to the two default data streams would fail `check` for a log type
        it never ships."""
        return sorted(
            {
                self.target_for(log_type)
                for log_type in LogType
                if log_type.description.on_by_default or f"target_{log_type.value}" in self.model_fields_set
            }
        )

    def base_url(self) -> str:
        """Where requests go, without a trailing slash: the URL, or the one the Cloud ID names."""
        if self.cloud_id is not None:
            return decode_cloud_id(self.cloud_id)
        return str(self.url).rstrip("/")

    def auth_variables(self) -> str:
        """The variables that carry the credentials in use, for messages about failed authentication."""
        if self.api_key is not None:
            return env_var("api_key")
        if self.username is not None:
            return f"{env_var('username')}/{env_var('password')}"
        if self.bearer_token is not None:
            return env_var("bearer_token")
        return f"{env_var('api_key')} (no credentials are set)"
