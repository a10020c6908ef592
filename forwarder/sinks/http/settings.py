"""Settings of the generic HTTP sink: every ``FORWARDER_HTTP__*`` variable.

A preset (``FORWARDER_HTTP__PRESET``) fills in the defaults of a documented receiver (presets.py);
whatever a person sets wins, except above a limit the receiver documents, which is refused at start.
"""

from __future__ import annotations

from typing import Any

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from forwarder.settings.values import credential
from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks.base import BATCH_MAX_BYTES, SinkSettings
from forwarder.sinks.http.presets import PRESETS, Encoding, Preset, PresetName
from forwarder.tls import former_name_conflicts

ENV_PREFIX = "FORWARDER_HTTP__"
# What a load balancer, a busy receiver or Datadog, Sumo Logic and Logstash answer for "later".
DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def env_var(field_name: str) -> str:
    """The variable a person sets for ``field_name``: used in every message that names a setting."""
    return f"{ENV_PREFIX}{field_name.upper()}"


class HttpSettings(SinkSettings, HttpTlsSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    preset: PresetName = Field(
        default="none",
        description="Defaults and limits of a documented receiver: `datadog` (logs intake v2), `sumo_logic` "
        "(HTTP source), `logstash` (http input), `vector` (http_server source), or `none`.",
    )
    url: AnyHttpUrl | None = Field(
        default=None,
        description="URL events are posted to, path included. Required, except with `PRESET=datadog` "
        "(default `https://http-intake.logs.datadoghq.com/api/v2/logs`; other sites have their own host).",
    )
    encoding: Encoding | None = Field(
        default=None,
        description="`ndjson` (one JSON document per line, `application/x-ndjson`) or `json_array` "
        "(`application/json`). Empty: the preset's (`json_array` for Datadog and Logstash), else `ndjson`.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Headers sent with every request, as a JSON object, e.g. "
        '`{"X-Sumo-Category":"cloudflare"}`; values are never shown.',
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        description="Sent as `Authorization: Bearer <token>`. Set at most one way to authenticate.",
    )
    basic_user: str = Field(
        default="", description="User of HTTP Basic authentication, with `BASIC_PASSWORD`."
    )
    basic_password: SecretStr | None = Field(
        default=None, description="Password of HTTP Basic authentication."
    )
    api_key: SecretStr | None = Field(
        default=None, description="An API key, sent in the header `API_KEY_HEADER` (Datadog: `DD-API-KEY`)."
    )
    api_key_header: str = Field(
        default="",
        description="Header of `API_KEY`. Empty: the preset's (`DD-API-KEY` for Datadog), else `X-API-Key`.",
    )
    gzip: bool = Field(default=True, description="Compress request bodies (`Content-Encoding: gzip`).")
    gzip_level: int = Field(default=1, ge=1, le=9, description="gzip level, 1 (fastest, default) to 9.")
    batch_max_events: int = Field(
        default=500, ge=1, description="Most events in one batch (Datadog: at most 1000, its default there)."
    )
    batch_max_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description=f"{BATCH_MAX_BYTES} Default 1 MB (Datadog: 5 MB, at most; Sumo Logic: at most 1 MB).",
    )
    retry_statuses: frozenset[int] = Field(
        default=DEFAULT_RETRY_STATUSES,
        description="HTTP statuses sent again later, as a JSON list; other 4xx and 5xx dead-letter the "
        "events. Default `[408,429,500,502,503,504]`.",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="Most batches being sent at once (also the pool)."
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for connecting, sending or an answer before retrying.",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = PRESETS.get(str(data.get("preset", "none")).strip().lower())  # type: ignore[call-overload]
        if preset is None:
            return data
        filled = dict(data)
        defaults = {
            "url": preset.default_url,
            "encoding": preset.encoding,
            "api_key_header": preset.api_key_header,
            "batch_max_events": preset.max_events,
            "batch_max_bytes": preset.max_bytes,
        }
        for name, value in defaults.items():
            if value is not None and not filled.get(name):
                filled[name] = value
        return filled

    @field_validator("bearer_token", "basic_password", "api_key", mode="before")
    @classmethod
    def _credential(cls, value: Any) -> Any:
        return credential(value)

    @field_validator("retry_statuses")
    @classmethod
    def _statuses(cls, value: frozenset[int]) -> frozenset[int]:
        wrong = sorted(status for status in value if not 400 <= status <= 599)
        if wrong:
            raise ValueError(f"only 4xx and 5xx statuses can be retried, not {wrong}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpSettings:
        problems = former_name_conflicts(self, env_var)
        if self.url is None:
            problems.append(f"{env_var('url')}: is required (the receiver's address, path included)")
        elif self.url.username or self.url.password:
            problems.append(
                f"{env_var('url')}: must not carry a user or password (the value is not shown): set "
                f"{env_var('basic_user')} and {env_var('basic_password')}"
            )
        ways = [self.bearer_token is not None, self.basic_password is not None, self.api_key is not None]
        if sum(ways) > 1:
            problems.append(
                f"set only one of {env_var('bearer_token')}, {env_var('basic_password')} and "
                f"{env_var('api_key')}"
            )
        if self.basic_password is not None and not self.basic_user:
            problems.append(f"{env_var('basic_user')}: is required with {env_var('basic_password')}")
        problems.extend(self._within_limits())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _within_limits(self) -> list[str]:
        limits = self.preset_limits()
        found = []
        if limits.max_events is not None and self.batch_max_events > limits.max_events:
            found.append(
                f"{env_var('batch_max_events')}: {self.preset} takes at most {limits.max_events} "
                "entries a request"
            )
        if limits.max_bytes is not None and self.batch_max_bytes > limits.max_bytes:
            found.append(
                f"{env_var('batch_max_bytes')}: {self.preset} takes at most {limits.max_bytes} "
                "bytes a request"
            )
        return found

    def preset_limits(self) -> Preset:
        return PRESETS[self.preset]

    @property
    def address(self) -> AnyHttpUrl:
        assert self.url is not None  # _consistent refuses a missing URL
        return self.url

    def display_url(self) -> str:
        """The URL without credentials or a query (Sumo Logic's URL is its token): for logs and messages."""
        url = self.address
        port = f":{url.port}" if url.port is not None else ""
        path = url.path or ""
        if self.preset == "sumo_logic" and path.count("/") > 3:
            # .../receiver/v1/http/<token>: the last segment is the source's secret.
            path = path.rsplit("/", 1)[0] + "/…"
        return f"{url.scheme}://{url.host}{port}{path}"
