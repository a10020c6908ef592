"""The Azure fakes (Entra ID, Logs Ingestion) for tests: served on threads of their own (azure-identity's
credentials are synchronous, and a credential waiting on a fake served by the test's own event loop would
wait forever), the identifiers of a tenant, app registration, managed identity and DCR, request helpers."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fakes.azure_monitor import FakeAzureMonitor
from fakes.entra_id import FakeEntraId
from fakes.threaded import ThreadedFake

TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT_ID = "22222222-2222-4222-8222-222222222222"
PUBLISHER = "33333333-3333-4333-8333-333333333333"  # the app's service principal, granted the role
MANAGED_CLIENT_ID = "44444444-4444-4444-8444-444444444444"
MANAGED_OBJECT_ID = "55555555-5555-4555-8555-555555555555"
OUTSIDER = "66666666-6666-4666-8666-666666666666"  # a principal without the role
SECRET = "fake-client-secret-value"
RULE = "dcr-00000000000000000000000000000001"
STREAM = "Custom-CloudflareAccessAuthentication"
SCOPE = "https://monitor.azure.com/.default"
ISSUER = "https://oidc.aks.example/tenant/cluster/"
SUBJECT = "system:serviceaccount:siem:cloudflare-siem-forwarder"
COLUMNS = {
    "TimeGenerated": "datetime",
    "EventCount": "int",
    "TargetUsername": "string",
    "AdditionalFields": "dynamic",
}
ROW = {"TimeGenerated": "2026-12-04T10:00:00Z", "EventCount": 1, "TargetUsername": "ada@example.com"}


class Serving(Protocol):
    def serve(self, ssl_context: ssl.SSLContext | None = None) -> AbstractAsyncContextManager[Any]: ...


S = TypeVar("S", bound=Serving)


@contextmanager
def serving_in_thread(fake: S, ssl_context: ssl.SSLContext | None = None) -> Iterator[ThreadedFake[S]]:
    stack = AsyncExitStack()

    async def start(served: S) -> None:
        await stack.enter_async_context(served.serve(ssl_context))

    async def stop(served: S) -> None:
        await stack.aclose()

    with ThreadedFake(fake, start, stop) as threaded:
        yield threaded


def ingest_url(
    monitor: FakeAzureMonitor, rule: str = RULE, stream: str = STREAM, version: str = "2023-01-01"
) -> str:
    return f"{monitor.url}/dataCollectionRules/{rule}/streams/{stream}?api-version={version}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def credential_options(entra: FakeEntraId, ca_path: str) -> dict[str, Any]:
    return {"authority": entra.url, "disable_instance_discovery": True, "connection_verify": ca_path}


def federated_token(tmp_path: Path, subject: str) -> str:
    """A service account token as AKS projects it (the fake does not check its signature)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": ["api://AzureADTokenExchange"],
        "exp": int(time.time()) + 3600,
    }
    path = tmp_path / f"token-{len(list(tmp_path.iterdir()))}"
    path.write_text(f"{part({'alg': 'RS256', 'kid': 'k1'})}.{part(claims)}.c2lnbmF0dXJl")
    return str(path)
