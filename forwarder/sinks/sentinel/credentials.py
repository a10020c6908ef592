"""Entra ID tokens for the Logs Ingestion API, through azure-identity (no hand-written OAuth).

The credential is chosen by ``FORWARDER_SENTINEL__CREDENTIAL``: client secret, client certificate,
workload identity federation (AKS) or managed identity. azure-identity caches the token and gets a new one
before it expires (MSAL treats a token as stale five minutes before its end), so :meth:`TokenSource.token`
asks the credential for every request and the credential answers from its cache almost always.

Why the synchronous credentials, called with ``asyncio.to_thread``, and not ``azure.identity.aio``: a
token is fetched about once an hour, so the thread costs nothing; the synchronous credentials share one
thread-safe cache however many requests ask at once, need no event loop of their own to close, and are
the ones the fakes' tests drive (tests/integration/test_azure_fakes.py).

What can go wrong, as the sink's three kinds of failure:

* Entra ID refuses the client (a wrong secret, an unknown app, a certificate or federated subject it does
  not know): :class:`SinkConfigError` naming the setting, from the ``AADSTS`` code;
* Entra ID is busy or unreachable (5xx, 429, network): :class:`RetryableError`;
* a certificate file or a trust file that cannot be used: :class:`SinkConfigError`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterator
from typing import Any, TypeVar

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    CredentialUnavailableError,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from forwarder.sinks.base import RetryableError, SinkConfigError, SinkError
from forwarder.sinks.sentinel.settings import SentinelSettings, env_var
from forwarder.telemetry.system_trust import SystemTrustAdapter

# Entra ID's error codes (Learn: "Microsoft Entra authentication and authorization error codes") and the
# setting each one points at.
_AADSTS_SETTINGS = {
    7000215: ("client_secret", "the client secret is not the app registration's"),
    7000222: ("client_secret", "the client secret has expired"),
    700016: ("client_id", "no application with this client id in the tenant"),
    90002: ("tenant_id", "no such tenant"),
    900023: ("tenant_id", "not a tenant id or domain"),
    700027: ("client_certificate_file", "the certificate is not registered on the app registration"),
    70021: (
        "federated_token_file",
        "no federated credential of the app registration matches the token's issuer and subject",
    ),
    700024: ("federated_token_file", "the federated token is not within its valid time range"),
    70011: ("scope", "the scope is not valid"),
    500011: ("scope", "no resource with this scope in the tenant"),
}
# Entra ID's own troubles (AADSTS50000 "There was an error issuing a token", AADSTS90033 "A transient
# error has occurred"): later, not a setting.
_SERVICE_CODES = frozenset({50000, 90033})
_AADSTS = re.compile(r"AADSTS(\d+)")
_HTTP_ERROR = re.compile(r"HTTP Error: (\d{3})")
Value = TypeVar("Value")


def build_credential(settings: SentinelSettings) -> TokenCredential:
    """The azure-identity credential the settings choose; SinkConfigError naming the setting it lacks."""
    options = _connection_options(settings)
    try:
        if settings.credential == "client_secret":
            secret = _required(settings.client_secret, "client_secret").get_secret_value()
            return ClientSecretCredential(
                _required(settings.tenant_id, "tenant_id"),
                _required(settings.client_id, "client_id"),
                secret,
                **options,
            )
        if settings.credential == "client_certificate":
            password = settings.client_certificate_password
            return CertificateCredential(
                _required(settings.tenant_id, "tenant_id"),
                _required(settings.client_id, "client_id"),
                certificate_path=str(_required(settings.client_certificate_file, "client_certificate_file")),
                password=password.get_secret_value() if password else None,
                **options,
            )
        if settings.credential == "workload_identity":
            token_file = settings.federated_token_file
            return WorkloadIdentityCredential(
                tenant_id=settings.tenant_id,
                client_id=settings.client_id,
                token_file_path=str(token_file) if token_file else None,
                **options,
            )
        return ManagedIdentityCredential(client_id=settings.client_id, **options)
    except (ValueError, OSError) as error:
        raise SinkConfigError(_unusable(settings, error)) from None


def _required(value: Value | None, name: str) -> Value:
    # The settings refuse a credential without what it needs; this keeps the types honest.
    if value is None:
        raise SinkConfigError(f"{env_var(name)} is needed with {env_var('credential')}")
    return value


def _connection_options(settings: SentinelSettings) -> dict[str, Any]:
    # Retrying is the pipeline's job (with its backoff and Retry-After), not azure-core's, whose retries
    # would hold a batch for seconds without anyone knowing.
    options: dict[str, Any] = {"retry_total": 0}
    if settings.authority_host and settings.credential != "managed_identity":
        options["authority"] = settings.authority_host
        # The host is named on purpose (a sovereign cloud, Azure Stack, a test's fake): asking
        # login.microsoftonline.com to validate it would fail where that host is not reachable.
        options["disable_instance_discovery"] = True
    # Entra ID is trusted like the endpoint: the TLS_CA_FILE (a proxy that inspects TLS signs both), or the
    # operating system's store, as every other https connection of the forwarder.
    if not settings.tls_verify:
        options["connection_verify"] = False
    elif settings.tls_ca_file is not None:
        options["connection_verify"] = str(settings.tls_ca_file)
    else:
        session = requests.Session()
        session.mount("https://", SystemTrustAdapter())
        options["transport"] = RequestsTransport(session=session, session_owner=True)
    return options


def _unusable(settings: SentinelSettings, error: Exception) -> str:
    names = {
        "client_secret": ("tenant_id", "client_id", "client_secret"),
        "client_certificate": ("client_certificate_file", "client_certificate_password"),
        "workload_identity": ("tenant_id", "client_id", "federated_token_file"),
        "managed_identity": ("client_id",),
    }[settings.credential]
    variables = ", ".join(env_var(name) for name in names)
    return f"cannot build the {settings.credential} credential: {error}; check {variables}"


class TokenSource:
    """Bearer tokens for the Logs Ingestion API from one credential, fetched off the event loop."""

    def __init__(self, settings: SentinelSettings) -> None:
        self._settings = settings
        self._credential: TokenCredential | None = None
        # Credentials replaced by renew(): closed with this source, not while a thread may still use them.
        self._retired: list[TokenCredential] = []

    async def token(self) -> str:
        if self._credential is None:
            self._credential = build_credential(self._settings)
        credential = self._credential
        try:
            access = await asyncio.to_thread(credential.get_token, self._settings.scope)
        except AzureError as error:
            failure = token_failure(self._settings, error)
            if isinstance(failure, RetryableError):
                # MSAL keeps a 5xx answer and serves it again for a while: the pipeline's next attempt,
                # after its own backoff, should ask Entra ID itself.
                self.renew()
            raise failure from None
        return access.token

    def renew(self) -> None:
        """Start again with an empty cache: the service refused a token the credential still holds as valid
        (a clock ahead of ours, a token revoked). The next :meth:`token` asks Entra ID for a new one."""
        if self._credential is not None:
            self._retired.append(self._credential)
            self._credential = None

    async def close(self) -> None:
        credentials = [*self._retired, *([self._credential] if self._credential is not None else [])]
        self._retired, self._credential = [], None
        for credential in credentials:
            close = getattr(credential, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


def token_failure(settings: SentinelSettings, error: AzureError) -> SinkError:
    """What a failed ``get_token`` means for the sink; Entra ID's messages, passed on, hold no secret."""
    message = " ".join(str(error.message or error).split())[:500]
    code = _aadsts_code(message)
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is None:
        # MSAL reports an answer without Entra ID's error body (its metadata document, say) by status only.
        answered = _HTTP_ERROR.search(message)
        status = int(answered.group(1)) if answered else None
    if any(isinstance(cause, ssl.SSLError | requests.exceptions.SSLError) for cause in _causes(error)):
        return SinkConfigError(
            f"TLS with Entra ID failed ({message}); if a proxy inspects TLS, set {env_var('tls_ca_file')} "
            "to its CA"
        )
    if isinstance(error, CredentialUnavailableError):
        return SinkConfigError(
            f"Entra ID token: the {settings.credential} credential is not available here: {message}; check "
            f"{env_var('credential')}"
        )
    if not isinstance(error, ClientAuthenticationError) or code in _SERVICE_CODES or _unreachable(error):
        return RetryableError(f"Entra ID token: {message}")
    if isinstance(status, int) and (status >= 500 or status == 429):
        return RetryableError(f"Entra ID token: {message}")
    known = _AADSTS_SETTINGS.get(code) if code is not None else None
    if known is not None:
        name, meaning = known
        return SinkConfigError(
            f"Entra ID refused the token request: {meaning}; check {env_var(name)} ({message})"
        )
    return SinkConfigError(
        f"Entra ID refused the token request ({message}); check {env_var('tenant_id')}, "
        f"{env_var('client_id')} and the {settings.credential} credential's settings"
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what lies behind it: azure-core keeps the transport's error as ``inner_exception``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "inner_exception", None)
        current = (
            current.__cause__ or current.__context__ or (inner if isinstance(inner, BaseException) else None)
        )


def _unreachable(error: BaseException) -> bool:
    """Whether no answer came back (azure-identity wraps the network error in an authentication error)."""
    return any(isinstance(cause, ServiceRequestError | ServiceResponseError) for cause in _causes(error))


def _aadsts_code(message: str) -> int | None:
    found = _AADSTS.search(message)
    return int(found.group(1)) if found else None
