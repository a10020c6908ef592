"""Settings of the Microsoft Sentinel sink: every ``FORWARDER_SENTINEL__*`` variable.

The names follow what ``deploy/sentinel/azuredeploy.json`` outputs (the endpoint, the rule's immutable id,
one stream per log type) and what Entra ID asks of an identity (tenant, client id, and a secret, a
certificate, a federated token file or a managed identity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from forwarder.formats import DocumentFormat
from forwarder.records import LogType
from forwarder.settings.values import credential as secret_value
from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks.base import BATCH_MAX_BYTES, SinkSettings
from forwarder.tls import former_name_conflicts

ENV_PREFIX = "FORWARDER_SENTINEL__"
API_VERSION = "2023-01-01"
# Microsoft's limit on one Logs Ingestion call, compressed and uncompressed ("Azure Monitor service
# limits": 1 MB); its SDKs cut at 1 MiB. The default stays under both.
ONE_MEGABYTE = 1024 * 1024
DEFAULT_SCOPE = "https://monitor.azure.com/.default"
# The streams azuredeploy.json declares (its outputs authenticationStream, userManagementStream and
# auditEventStream).
DEFAULT_STREAMS = {
    LogType.ACCESS_REQUESTS: "Custom-CloudflareAccessAuthentication",
    LogType.SCIM_UPDATES: "Custom-CloudflareScimUserManagement",
    LogType.AUDIT_LOGS: "Custom-CloudflareAuditEvent",
}

Credential = Literal["client_secret", "client_certificate", "workload_identity", "managed_identity"]


def env_var(field_name: str) -> str:
    """The variable a person sets for ``field_name``: used in every message that names a setting."""
    return f"{ENV_PREFIX}{field_name.upper()}"


class SentinelSettings(SinkSettings, HttpTlsSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    format: DocumentFormat = Field(
        default="asim",
        description=(
            "Output format: `asim` (default; the columns of the tables `deploy/sentinel` creates), or `ecs`, "
            "`ocsf`, `raw` for a custom table and stream of your own."
        ),
    )
    url: AnyHttpUrl = Field(
        description=(
            "The data collection endpoint's logs ingestion URL, e.g. "
            "`https://<name>.<region>-1.ingest.monitor.azure.com` (azuredeploy.json's output "
            "`logsIngestionEndpoint`)."
        )
    )
    rule_id: str = Field(
        description="Immutable id of the data collection rule, `dcr-...` "
        "(output `dataCollectionRuleImmutableId`)."
    )
    stream_access_requests: str = Field(
        default=DEFAULT_STREAMS[LogType.ACCESS_REQUESTS],
        description="Stream of the rule that receives Access authentication events.",
    )
    stream_scim_updates: str = Field(
        default=DEFAULT_STREAMS[LogType.SCIM_UPDATES],
        description="Stream of the rule that receives SCIM provisioning events.",
    )
    stream_audit_logs: str = Field(
        default=DEFAULT_STREAMS[LogType.AUDIT_LOGS],
        description="Stream of the rule that receives account audit log events.",
    )
    credential: Credential = Field(
        default="client_secret",
        description=(
            "How the forwarder gets its Entra ID token: `client_secret`, `client_certificate`, "
            "`workload_identity` (AKS: a federated service account token) or `managed_identity`."
        ),
    )
    tenant_id: str | None = Field(
        default=None,
        description="Entra ID tenant (directory) id. Needed by every credential but `managed_identity`; with "
        "`workload_identity` defaults to `AZURE_TENANT_ID`, which AKS sets.",
    )
    client_id: str | None = Field(
        default=None,
        description=(
            "Application (client) id of the app registration; with `managed_identity`, the client id of a "
            "user-assigned identity (empty: the system-assigned one); with `workload_identity` defaults to "
            "`AZURE_CLIENT_ID`, which AKS sets."
        ),
    )
    client_secret: SecretStr | None = Field(
        default=None, description="Client secret of the app registration (`client_secret`)."
    )
    client_certificate_file: Path | None = Field(
        default=None,
        description="PEM file with the app registration's certificate and its private key "
        "(`client_certificate`).",
    )
    client_certificate_password: SecretStr | None = Field(
        default=None, description="Password of the private key in `CLIENT_CERTIFICATE_FILE`, if it has one."
    )
    federated_token_file: Path | None = Field(
        default=None,
        description="Service account token file (`workload_identity`); defaults to "
        "`AZURE_FEDERATED_TOKEN_FILE`, which AKS sets.",
    )
    authority_host: str | None = Field(
        default=None,
        description=(
            "Entra ID host for a sovereign cloud, e.g. `login.microsoftonline.us`; empty: the public cloud "
            "(or `AZURE_AUTHORITY_HOST`)."
        ),
    )
    scope: str = Field(
        default=DEFAULT_SCOPE,
        description="Scope of the token: the Logs Ingestion audience plus `/.default`; "
        "`https://monitor.azure.us/.default` in Azure Government.",
    )
    batch_max_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        le=ONE_MEGABYTE,
        description=f"{BATCH_MAX_BYTES} Here the wrapping is the JSON array; the service takes 1 MB a call.",
    )
    gzip: bool = Field(default=True, description="Compress request bodies (`Content-Encoding: gzip`).")
    gzip_level: int = Field(default=1, ge=1, le=9, description="gzip level, 1 (fastest, default) to 9.")
    concurrency: int = Field(
        default=2, ge=1, le=64, description="Most batches being sent at once (also the connection pool)."
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for connecting, sending or an answer before retrying.",
    )

    @field_validator("client_secret", "client_certificate_password", mode="before")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        return secret_value(value)

    @field_validator(
        "rule_id",
        "tenant_id",
        "client_id",
        "stream_access_requests",
        "stream_scim_updates",
        "stream_audit_logs",
    )
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # Ids copied from the portal or `az ... --output tsv` carry spaces and line breaks.
        if value is None:
            return None
        stripped = value.strip()
        if not stripped or any(character in stripped for character in "/?#% "):
            raise ValueError("must be one path segment: no spaces, '/', '?', '#' or '%'")
        return stripped

    @model_validator(mode="after")
    def _consistent(self) -> SentinelSettings:
        # Every problem at once: a person fixing a deployment should not discover them one by one.
        problems = [*former_name_conflicts(self, env_var), *self._credential_problems()]
        if self.url.username or self.url.password:
            problems.append(f"{env_var('url')} must not carry a user or password (the value is not shown)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _credential_problems(self) -> list[str]:
        needed = {
            "client_secret": ("tenant_id", "client_id", "client_secret"),
            "client_certificate": ("tenant_id", "client_id", "client_certificate_file"),
            "workload_identity": (),
            "managed_identity": (),
        }[self.credential]
        problems = [
            f"{env_var(name)} is needed with {env_var('credential')}={self.credential}"
            for name in needed
            if getattr(self, name) is None
        ]
        unused = {
            "client_secret": "client_secret",
            "client_certificate_file": "client_certificate",
            "federated_token_file": "workload_identity",
        }
        problems.extend(
            f"{env_var(name)} is set but {env_var('credential')} is {self.credential}, not {wanted}"
            for name, wanted in unused.items()
            if getattr(self, name) is not None and self.credential != wanted
        )
        return problems

    def stream_for(self, log_type: LogType) -> str:
        streams = {
            LogType.ACCESS_REQUESTS: self.stream_access_requests,
            LogType.SCIM_UPDATES: self.stream_scim_updates,
            LogType.AUDIT_LOGS: self.stream_audit_logs,
        }
        return streams[log_type]

    def display_url(self) -> str:
        """The endpoint without any user or password in it: for logs and messages."""
        port = f":{self.url.port}" if self.url.port is not None else ""
        path = (self.url.path or "").rstrip("/")
        return f"{self.url.scheme}://{self.url.host}{port}{path}"

    def ingestion_path(self, log_type: LogType) -> str:
        return f"/dataCollectionRules/{self.rule_id}/streams/{self.stream_for(log_type)}"
