"""The HTTP side of the sink: credentials, the pooled client, `_bulk` headers and parameters, and
what a request that got no answer means.

Kept apart from the protocol (encoding and classifying `_bulk`) so each can be read and tested
alone, as httpx keeps its transports apart from its models.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import httpx
import idna

from forwarder import __version__
from forwarder.sinks._http import client as http_client
from forwarder.sinks._http.client import PreparedRequest
from forwarder.sinks._http.compression import CONTENT_ENCODING
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.base import SinkError
from forwarder.sinks.elasticsearch.settings import env_var

NDJSON_CONTENT_TYPE = "application/x-ndjson"
# Only the fields the classifier reads: a response to 500 creates is then a few kB, not 100.
RESPONSE_FILTER = "errors,items.*.status,items.*.error"

if TYPE_CHECKING:
    from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings


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
    return http_client.make_client(
        settings,
        env_var,
        what="the cluster",
        concurrency=settings.concurrency,
        request_timeout=settings.request_timeout,
        connect_timeout=min(settings.request_timeout, 10.0),
        base_url=settings.base_url(),
        headers=headers,
    )


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
    except REQUEST_ERRORS as error:
        raise _failure(error, settings, method, path) from error


async def send(
    client: httpx.AsyncClient, settings: ElasticsearchSettings, prepared: PreparedRequest, content: bytes
) -> httpx.Response:
    """``prepared`` with ``content``, as :func:`request` sends it and with the same errors."""
    try:
        return await client.send(prepared.build(client, content))
    except REQUEST_ERRORS as error:
        raise _failure(error, settings, prepared.method, prepared.path) from error


def _failure(
    error: httpx.TransportError | httpx.InvalidURL | idna.IDNAError,
    settings: ElasticsearchSettings,
    method: str,
    path: str,
) -> SinkError:
    # Network trouble is retryable; a TLS failure or a malformed address is for a person to fix.
    return transport_failure(
        error,
        settings=settings,
        env_var=env_var,
        where=settings.base_url(),
        receiver="the cluster",
        action=f"{method} {path}",
    )


def bulk_headers(gzip_enabled: bool) -> dict[str, str]:
    headers = {"Content-Type": NDJSON_CONTENT_TYPE}
    if gzip_enabled:
        headers["Content-Encoding"] = CONTENT_ENCODING
    return headers


def bulk_params(pipeline: str | None) -> dict[str, str]:
    params = {"filter_path": RESPONSE_FILTER}
    if pipeline:
        params["pipeline"] = pipeline
    return params
