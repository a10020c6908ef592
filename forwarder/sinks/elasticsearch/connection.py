"""The HTTP side of the sink: credentials, TLS and the pooled client.

Kept apart from the protocol (encoding and classifying `_bulk`) so each can be read and tested
alone, as httpx keeps its transports apart from its models.
"""

from __future__ import annotations

import base64
import logging
import ssl
from typing import TYPE_CHECKING, Any

import httpx

from forwarder import __version__
from forwarder.sinks.base import RetryableError, SinkConfigError, SinkError

if TYPE_CHECKING:
    from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings

logger = logging.getLogger(__name__)


def authorization_header(settings: ElasticsearchSettings) -> str | None:
    """The ``Authorization`` value for the credentials set, or None when none are."""
    if settings.api_key is not None:
        key = settings.api_key.get_secret_value().strip()
        # Elasticsearch hands out both forms; the header wants base64("<id>:<key>"), and the
        # base64 alphabet has no ':', so a ':' means the two halves were given as they are.
        if ":" in key:
            key = base64.b64encode(key.encode("utf-8")).decode("ascii")
        return f"ApiKey {key}"
    if settings.username is not None and settings.password is not None:
        pair = f"{settings.username}:{settings.password.get_secret_value()}".encode()
        return f"Basic {base64.b64encode(pair).decode('ascii')}"
    if settings.bearer_token is not None:
        return f"Bearer {settings.bearer_token.get_secret_value().strip()}"
    return None


def tls_verification(settings: ElasticsearchSettings) -> ssl.SSLContext | bool:
    """What httpx's ``verify`` gets: False only with the explicit insecure switch."""
    if settings.tls_insecure:
        logger.warning(
            "TLS verification of %s is OFF (FORWARDER_ELASTICSEARCH__TLS_INSECURE): anyone on the path "
            "can read and change the events; use CA_BUNDLE instead outside of tests",
            settings.base_url(),
        )
        return False
    if settings.ca_bundle is None and settings.client_cert is None:
        # True lets httpx use certifi or SSL_CERT_FILE / SSL_CERT_DIR from the environment.
        return True
    context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
    if settings.client_cert is not None:
        context.load_cert_chain(
            str(settings.client_cert),
            str(settings.client_key) if settings.client_key else None,
            settings.client_key_password.get_secret_value() if settings.client_key_password else None,
        )
    return context


def make_client(settings: ElasticsearchSettings) -> httpx.AsyncClient:
    """A keep-alive pool of ``concurrency`` connections to the cluster."""
    headers = {
        "User-Agent": f"cloudflare-siem-forwarder/{__version__}",
        # Plain JSON is what both Elasticsearch and OpenSearch answer without a compatibility header.
        "Accept": "application/json",
    }
    authorization = authorization_header(settings)
    if authorization is not None:
        headers["Authorization"] = authorization
    timeout = settings.request_timeout
    return httpx.AsyncClient(
        base_url=settings.base_url(),
        headers=headers,
        verify=tls_verification(settings),
        # Proxies from HTTP(S)_PROXY / NO_PROXY, as every other HTTP client in a cluster honours them.
        trust_env=True,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None),
        limits=httpx.Limits(
            max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
        ),
        follow_redirects=False,
    )


def tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a failed connection, if that is why it failed.

    A TLS failure (untrusted certificate, wrong host name, https to a plain-http port) does not go
    away by retrying: it is a configuration problem for a person to fix.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


async def request(
    client: httpx.AsyncClient,
    settings: ElasticsearchSettings,
    method: str,
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP exchange; a failure to get any answer becomes the sink error it means."""
    try:
        return await client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise transport_error(settings, error) from error


def transport_error(settings: ElasticsearchSettings, error: httpx.TransportError) -> SinkError:
    """Network trouble is retryable; a TLS failure or a malformed address is for a person to fix."""
    where = settings.base_url()
    tls = tls_failure(error)
    if tls is not None:
        return SinkConfigError(
            f"TLS with {where} failed ({tls.reason or tls}): trust its CA with "
            f"FORWARDER_ELASTICSEARCH__CA_BUNDLE (or check the URL's scheme and host name)"
        )
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return SinkConfigError(f"cannot use the address {where}: {error}; check FORWARDER_ELASTICSEARCH__URL")
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    detail = str(error) or type(error).__name__
    return RetryableError(f"connection to {where} {kind}: {detail}")
