"""TLS of an HTTP sink: its settings (one naming scheme), its context, and the warnings it earns.

Every HTTP sink's settings model inherits :class:`HttpTlsSettings`; the sink builds its context with
:func:`context` and says what is risky with :func:`warnings`. The contexts themselves are built by
:mod:`forwarder.tls`, like those of the Cloudflare API and syslog.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator

from forwarder import tls
from forwarder.sinks.base import SinkConfigError

EnvVar = Callable[[str], str]


class HttpTlsSettings(BaseModel):
    """``TLS_CA_FILE``, ``TLS_CERT_FILE``, ``TLS_KEY_FILE``, ``TLS_KEY_PASSWORD``, ``TLS_VERIFY``, and the
    former names of 0.1.0, still read into them (a warning says so at start)."""

    tls_ca_file: Path | None = Field(
        default=None,
        description=(
            "PEM file of the CAs that may sign the receiver's certificate; replaces the operating system's "
            "trust store, which is used when empty (on Linux `SSL_CERT_FILE` / `SSL_CERT_DIR` point it "
            "elsewhere)."
        ),
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM client certificate (chain) for receivers that require one; may also hold the key.",
    )
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key of `TLS_CERT_FILE`, when it is not in the same file."
    )
    tls_key_password: SecretStr | None = Field(
        default=None, description="Password of `TLS_KEY_FILE`, if it is encrypted."
    )
    tls_verify: bool = Field(
        default=True,
        description=(
            "Verify the receiver's certificate and host name. `false` only for tests: anyone on the path can "
            "read and change the events and the credentials. A warning is logged at start."
        ),
    )
    ca_bundle: Path | None = Field(
        default=None, description="Deprecated: the former name of `TLS_CA_FILE`; set only one."
    )
    client_cert: Path | None = Field(
        default=None, description="Deprecated: the former name of `TLS_CERT_FILE`; set only one."
    )
    client_key: Path | None = Field(
        default=None, description="Deprecated: the former name of `TLS_KEY_FILE`; set only one."
    )
    client_key_password: SecretStr | None = Field(
        default=None, description="Deprecated: the former name of `TLS_KEY_PASSWORD`; set only one."
    )
    tls_insecure: bool = Field(
        default=False,
        description="Deprecated: the former, inverted name of `TLS_VERIFY` (`true` is `TLS_VERIFY=false`); "
        "set only one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _former_names(cls, data: Any) -> Any:
        return tls.adopt_former_names(data)


def context(settings: HttpTlsSettings, env_var: EnvVar, *, what: str) -> ssl.SSLContext:
    """What httpx's ``verify`` gets; SinkConfigError naming the setting when a file cannot be used."""
    password = settings.tls_key_password.get_secret_value() if settings.tls_key_password else None
    try:
        return tls.client_context(
            settings.tls_ca_file,
            settings.tls_cert_file,
            settings.tls_key_file,
            password,
            verify=settings.tls_verify,
            what=what,
            variables=tls.tls_variables(settings, env_var),
        )
    except tls.TlsSettingError as error:
        raise SinkConfigError(str(error)) from None


def warnings(
    settings: HttpTlsSettings, env_var: EnvVar, *, url: str, shown_url: str, secrets: str | None
) -> list[str]:
    """Former names in use; plain http to another host (``secrets`` names what travels in clear);
    verification turned off."""
    found = tls.former_names_in_use(settings, env_var)
    cleartext = tls.cleartext_warning(url, env_var("url"), secrets)
    if cleartext is not None:
        found.append(cleartext)
    elif not settings.tls_verify:
        found.append(
            tls.verification_off_warning(
                tls.verification_switch(settings, env_var),
                shown_url,
                tls.variable_for(settings, "tls_ca_file", env_var),
            )
        )
    return found


def describe(settings: HttpTlsSettings, scheme: str) -> str:
    """How a sink's connection is protected, for its one-line description."""
    if scheme == "http":
        return "unencrypted HTTP"
    trust = tls.describe_trust(settings.tls_ca_file, settings.tls_verify)
    if settings.tls_cert_file is not None:
        trust += ", client certificate"
    return trust
