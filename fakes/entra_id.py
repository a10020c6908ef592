"""A fake Microsoft Entra ID token service on 127.0.0.1, enough for azure-identity's credentials.

What it serves, the way Entra ID and the Azure managed identity endpoints do:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: MSAL reads the token endpoint from it. With
  ``disable_instance_discovery=True`` azure-identity asks nothing else of the authority, so a credential
  built with ``authority=fake.url`` (https only: azure-identity refuses an http authority) talks only to us.
* ``POST /{tenant}/oauth2/v2.0/token``, the client credentials grant, with ``scope=<resource>/.default`` and
  either ``client_secret`` or a ``client_assertion`` (RFC 7523): an X.509 certificate's signed JWT (header
  ``x5t#S256`` or ``x5t``, RS256 or PS256, audience the token endpoint), or a federated token from another
  issuer (workload identity: ``iss``/``sub`` match a federated credential, audience
  ``api://AzureADTokenExchange``; its signature is not checked, the fake has no issuer keys to fetch).
  Errors are Entra's body: ``error``, ``error_description`` starting ``AADSTS<code>:``, ``error_codes``.
* ``GET /metadata/identity/oauth2/token`` (IMDS, ``Metadata: true``; azure-identity goes there when
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` names us) and ``GET /msi/token`` (App Service 2019-08-01,
  ``X-IDENTITY-HEADER``; when ``IDENTITY_ENDPOINT`` names it and ``IDENTITY_HEADER`` is set).

Access tokens are JWTs signed with a key only the fakes know (HS256): :class:`fakes.azure_monitor` reads
them with the same :class:`TokenKey` and checks audience, expiry and the principal's role, as Azure does.
Tokens last ``expires_in`` seconds (settable, so a test can make a credential refresh); every token request
is kept in ``token_requests``. Faults are queued per token request with :meth:`FakeEntraId.inject`.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography import x509

from fakes import azure_faults, entra_protocol
from fakes.azure_faults import CannedAnswer, Fault, Reset
from fakes.entra_protocol import (
    InvalidToken,
    TokenKey,
    entra_error,
    invalid_client,
    plain_error,
    service_error,
)

__all__ = [
    "ASSERTION_TYPE",
    "FEDERATED_AUDIENCE",
    "MONITOR_AUDIENCE",
    "Application",
    "FakeEntraId",
    "FederatedCredential",
    "InvalidToken",
    "ManagedIdentity",
    "TokenKey",
    "TokenRequest",
    "entra_error",
    "invalid_client",
    "service_error",
]

MONITOR_AUDIENCE = "https://monitor.azure.com"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class FederatedCredential:
    """Trust in tokens of another issuer for one subject (AKS: the service account's)."""

    issuer: str
    subject: str
    audience: str = FEDERATED_AUDIENCE


@dataclass(frozen=True)
class Application:
    """An app registration and its service principal; role assignments name ``object_id``."""

    client_id: str
    object_id: str
    secrets: frozenset[str] = frozenset()
    certificates: tuple[x509.Certificate, ...] = ()
    federated: tuple[FederatedCredential, ...] = ()


@dataclass(frozen=True)
class ManagedIdentity:
    client_id: str
    object_id: str


@dataclass(frozen=True)
class TokenRequest:
    flow: str  # client_secret, certificate, federated, imds or app_service
    client_id: str
    audience: str
    at: float


class _Refusal(Exception):
    def __init__(self, answer: CannedAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


@dataclass
class FakeEntraId:
    tenant_id: str
    applications: Iterable[Application] = ()
    managed_identities: Iterable[ManagedIdentity] = ()
    expires_in: int = 3600
    identity_header: str = "fake-identity-header"
    clock: Callable[[], float] = time.time
    key: TokenKey = field(default_factory=TokenKey)
    token_requests: list[TokenRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._applications = {application.client_id: application for application in self.applications}
        self._identities = {identity.client_id: identity for identity in self.managed_identities}
        self._client_ids = {app.object_id: app.client_id for app in self._applications.values()} | {
            identity.object_id: identity.client_id for identity in self._identities.values()
        }

    # --- what tests use -----------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next token requests (of any flow)."""
        self.faults.extend(faults)

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/token"

    def issue(self, object_id: str, audience: str = MONITOR_AUDIENCE, lifetime: float | None = None) -> str:
        """A token as the service would issue it; a negative ``lifetime`` gives an expired one."""
        now = self.clock()
        expires = now + (self.expires_in if lifetime is None else lifetime)
        client_id = self._client_ids.get(object_id, object_id)
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(expires),
            "tid": self.tenant_id,
            "appid": client_id,
            "oid": object_id,
            "sub": object_id,
            "idtyp": "app",
            # Entra ID's unique token identifier: no two tokens are equal, even within one second.
            "uti": uuid.uuid4().hex,
        }
        return self.key.sign(claims)

    # --- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid_configuration)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/metadata/identity/oauth2/token", self._imds)
        app.router.add_get("/msi/token", self._app_service)
        return app

    @asynccontextmanager
    async def serve(self, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[FakeEntraId]:
        async with azure_faults.serve(self.app(), ssl_context) as url:
            self.url = url
            yield self

    # --- handlers -----------------------------------------------------------------------------

    async def _openid_configuration(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        if tenant != self.tenant_id:
            return azure_faults.answer(
                entra_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            )
        base = f"{self.url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "tenant_region_scope": "EU",
            }
        )

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        return await self._answer(request, lambda: self._client_credentials(request, form))

    async def _imds(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, lambda: self._managed_identity(request, "imds"))

    async def _app_service(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, lambda: self._managed_identity(request, "app_service"))

    async def _answer(self, request: web.Request, handle: Callable[[], dict[str, Any]]) -> web.StreamResponse:
        fault = self.faults.pop(0) if self.faults else None
        early = await azure_faults.apply_before(fault, request)
        if early is not None:
            return early
        try:
            body = handle()
        except _Refusal as refusal:
            return azure_faults.answer(refusal.answer)
        if isinstance(fault, Reset):
            return azure_faults.reset(request)
        return web.json_response(body)

    def _client_credentials(self, request: web.Request, form: Mapping[str, Any]) -> dict[str, Any]:
        if request.match_info["tenant"] != self.tenant_id:
            raise _Refusal(
                entra_error(
                    400, "invalid_request", 90002, f"Tenant '{request.match_info['tenant']}' not found."
                )
            )
        if form.get("grant_type") != "client_credentials":
            raise _Refusal(
                entra_error(
                    400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
                )
            )
        audience = _audience(str(form.get("scope", "")))
        client_id = str(form.get("client_id", ""))
        application = self._applications.get(client_id)
        if application is None:
            raise _Refusal(
                entra_error(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory.",
                )
            )
        flow = self._authenticate(application, form)
        self.token_requests.append(TokenRequest(flow, client_id, audience, self.clock()))
        return self._token_body(application.object_id, audience)

    def _authenticate(self, application: Application, form: Mapping[str, Any]) -> str:
        if "client_secret" in form:
            if form["client_secret"] not in application.secrets:
                raise _Refusal(invalid_client())
            return "client_secret"
        if form.get("client_assertion_type") != ASSERTION_TYPE or "client_assertion" not in form:
            raise _Refusal(
                entra_error(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the "
                    "following parameter: 'client_assertion' or 'client_secret'.",
                )
            )
        header, claims = _unverified_jwt(str(form["client_assertion"]))
        if "x5t#S256" in header or "x5t" in header:
            self._check_certificate_assertion(application, str(form["client_assertion"]), header, claims)
            return "certificate"
        self._check_federated_assertion(application, claims)
        return "federated"

    def _check_certificate_assertion(
        self, application: Application, assertion: str, header: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> None:
        certificate = next(
            (c for c in application.certificates if entra_protocol.certificate_matches(c, header)), None
        )
        if certificate is None:
            raise _Refusal(
                entra_error(
                    401,
                    "invalid_client",
                    700027,
                    "The certificate with identifier used "
                    "to sign the client assertion is not registered on application.",
                )
            )
        if not entra_protocol.signature_verifies(certificate, assertion, str(header.get("alg"))):
            raise _Refusal(
                entra_error(401, "invalid_client", 700027, "Client assertion contains an invalid signature.")
            )
        if claims.get("aud") != self.token_endpoint or claims.get("iss") != application.client_id:
            raise _Refusal(
                entra_error(
                    401,
                    "invalid_client",
                    700021,
                    "Client assertion application identifier or audience doesn't match.",
                )
            )
        self._check_lifetime(claims)

    def _check_federated_assertion(self, application: Application, claims: Mapping[str, Any]) -> None:
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(
            credential.issuer == claims.get("iss")
            and credential.subject == claims.get("sub")
            and credential.audience in audiences
            for credential in application.federated
        ):
            raise _Refusal(
                entra_error(
                    400,
                    "invalid_request",
                    70021,
                    "No matching federated identity record found for presented assertion.",
                )
            )
        self._check_lifetime(claims)

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires < self.clock():
            raise _Refusal(
                entra_error(
                    400, "invalid_client", 700024, "Client assertion is not within its valid time range."
                )
            )

    def _managed_identity(self, request: web.Request, flow: str) -> dict[str, Any]:
        if flow == "imds" and request.headers.get("Metadata") != "true":
            raise _Refusal(plain_error(400, "invalid_request", "Required metadata header not specified"))
        if flow == "app_service" and request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            raise _Refusal(plain_error(401, "invalid_request", "The X-IDENTITY-HEADER is missing or wrong."))
        client_id = request.query.get("client_id")
        identities = list(self._identities.values())
        if client_id is not None:
            identities = [identity for identity in identities if identity.client_id == client_id]
        if len(identities) != 1:
            raise _Refusal(
                plain_error(
                    400,
                    "invalid_request",
                    "Identity not found, or more than one: specify "
                    "the client_id of the identity in the token request.",
                )
            )
        audience = request.query.get("resource", "").rstrip("/")
        self.token_requests.append(TokenRequest(flow, identities[0].client_id, audience, self.clock()))
        body = self._token_body(identities[0].object_id, audience)
        # Managed identity endpoints give seconds as strings and say when the token expires.
        body = {name: str(value) if name.endswith("_in") else value for name, value in body.items()}
        return {
            **body,
            "expires_on": str(int(self.clock()) + self.expires_in),
            "not_before": str(int(self.clock())),
            "resource": audience,
            "client_id": identities[0].client_id,
        }

    def _token_body(self, object_id: str, audience: str) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": self.issue(object_id, audience),
        }


def _audience(scope: str) -> str:
    resource, _, default = scope.partition("/.default")
    if not resource or default or not scope.endswith("/.default"):
        raise _Refusal(
            entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not "
                "valid. Client credential flows must have a scope value with /.default "
                "suffixed to the resource identifier (application ID URI).",
            )
        )
    return resource


def _unverified_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return entra_protocol.unverified_jwt(token)
    except ValueError:
        raise _Refusal(
            entra_error(401, "invalid_client", 50027, "JWT token is invalid or malformed.")
        ) from None
