"""Settings of the OTLP logs sink: every ``FORWARDER_OTLP__*`` variable, and the standard
``OTEL_EXPORTER_OTLP_LOGS_*`` variables where they apply.

An OpenTelemetry user configures an exporter with the ``OTEL_EXPORTER_OTLP_LOGS_*`` variables of the
specification ("OpenTelemetry Protocol Exporter"); they are read here, in their own units and syntax
(milliseconds, ``key=value`` lists), under the forwarder's own names, which win when both are set.
The signal-less ``OTEL_EXPORTER_OTLP_*`` variables are not read: they send the forwarder's own metrics
and traces (forwarder/telemetry/exporters.py), and security events must not follow them by accident.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from forwarder.config_sources import FileValueSource
from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks.base import BATCH_MAX_BYTES, SinkSettings
from forwarder.tls import former_name_conflicts

ENV_PREFIX = "FORWARDER_OTLP__"
LOGS_PATH = "/v1/logs"
Protocol = Literal["http/protobuf", "http/json"]


def env_var(field_name: str) -> str:
    """The variable a person sets for ``field_name``: used in every message that names a setting.

    The HTTP kit (forwarder/sinks/_http) calls the address setting ``url``; this sink's is ``endpoint``,
    the specification's word.
    """
    return f"{ENV_PREFIX}{'endpoint' if field_name == 'url' else field_name.upper()}".upper()


# Field -> the standard variable that also sets it (OpenTelemetry "OTLP Exporter Configuration").
STANDARD_VARIABLES = {
    "endpoint": "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "headers": "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "request_timeout": "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "compression": "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    "protocol": "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "tls_ca_file": "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    "tls_cert_file": "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    "tls_key_file": "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
}


def parse_standard_headers(text: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` with percent-encoded values (the specification's W3C Baggage-like
    syntax) to a dict; a pair without ``=`` is refused without showing it (it may hold a secret)."""
    headers: dict[str, str] = {}
    for number, pair in enumerate(text.split(","), start=1):
        if not pair.strip():
            continue
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"pair {number} is not key=value (the value is not shown)")
        headers[unquote(key.strip())] = unquote(value.strip())
    return headers


class StandardVariablesSource(PydanticBaseSettingsSource):
    """The ``OTEL_EXPORTER_OTLP_LOGS_*`` variables, converted to the fields' units; the lowest priority."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every variable at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, variable in STANDARD_VARIABLES.items():
            text = os.environ.get(variable, "").strip()
            if not text:
                continue
            if field_name == "headers":
                values[field_name] = parse_standard_headers(text)
            elif field_name == "request_timeout":
                # The specification counts milliseconds; the forwarder's settings count seconds.
                values[field_name] = _milliseconds_to_seconds(text, variable)
            else:
                values[field_name] = text
        return values


def _milliseconds_to_seconds(text: str, variable: str) -> float:
    try:
        return float(text) / 1000
    except ValueError:
        raise ValueError(f"{variable} must be a number of milliseconds, not {text!r}") from None


class OtlpSettings(SinkSettings, HttpTlsSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    endpoint: AnyHttpUrl = Field(
        default=AnyHttpUrl(f"http://localhost:4318{LOGS_PATH}"),
        description=(
            "Full URL logs are posted to, path included, as the specification's signal endpoint: "
            f"`https://collector.example.com:4318{LOGS_PATH}`. A URL without a path gets `{LOGS_PATH}`. "
            "Also read from `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`."
        ),
    )
    protocol: Protocol = Field(
        default="http/protobuf",
        description="`http/protobuf` (default) or `http/json` (OTLP/JSON). Also read from "
        "`OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`; `grpc` is not supported.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            'Headers sent with every request, as a JSON object (`{"Authorization":"Bearer ..."}`); values '
            "are never shown. Also read from `OTEL_EXPORTER_OTLP_LOGS_HEADERS` (`key=value,key2=value2`)."
        ),
    )
    compression: Literal["gzip", "none"] = Field(
        default="gzip",
        description="`gzip` (default) or `none`. Also read from `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`.",
    )
    gzip_level: int = Field(default=1, ge=1, le=9, description="gzip level, 1 (fastest, default) to 9.")
    request_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for connecting, sending or an answer before retrying. Also read "
        "from `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT` (in milliseconds there, as the specification says).",
    )
    batch_max_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description=f"{BATCH_MAX_BYTES} Here the wrapping is the protobuf LogRecord (default 1 MB; the "
        "Collector's OTLP receiver takes up to 20 MiB by default).",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="Most batches being sent at once (also the connection pool)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        standard = StandardVariablesSource(settings_cls)
        return init_settings, env_settings, FileValueSource(settings_cls), standard

    @field_validator("protocol", mode="before")
    @classmethod
    def _known_protocol(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "grpc":
            raise ValueError("grpc is not supported: use http/protobuf (port 4318 on a Collector)")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("endpoint")
    @classmethod
    def _logs_path(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.username or value.password:
            raise ValueError(
                "must not carry a user or password (the value is not shown): put credentials in "
                f"{env_var('headers')}"
            )
        if (value.path or "/") == "/":
            # People give the Collector's address; the specification's default path is the one it serves.
            return AnyHttpUrl(str(value).rstrip("/") + LOGS_PATH)
        return value

    @model_validator(mode="after")
    def _former_names_agree(self) -> OtlpSettings:
        problems = former_name_conflicts(self, env_var)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def display_url(self) -> str:
        """The endpoint without a query, which may carry a key: for logs and messages."""
        port = f":{self.endpoint.port}" if self.endpoint.port is not None else ""
        return f"{self.endpoint.scheme}://{self.endpoint.host}{port}{self.endpoint.path or ''}"
