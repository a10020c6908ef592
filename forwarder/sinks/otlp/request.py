"""Requests to an OTLP/HTTP receiver: the endpoint, the headers, compressed bodies, and what a request
that got no answer means. What an answer means is ``classifier``'s business."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from forwarder import __version__
from forwarder.sinks._http.client import make_client
from forwarder.sinks._http.compression import CONTENT_ENCODING, compress_body
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.otlp.settings import OtlpSettings, env_var

CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str | None
    retry_after: str | None


class OtlpClient:
    """One pooled keep-alive client to one receiver, with the headers every request carries."""

    def __init__(self, settings: OtlpSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._url = str(settings.endpoint)
        self._display_url = settings.display_url()
        headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
        headers["User-Agent"] = f"cloudflare-siem-forwarder/{__version__}"
        headers["Content-Type"] = CONTENT_TYPES[settings.protocol]
        self._headers = headers
        self._client = make_client(
            settings,
            env_var,
            what="the OTLP receiver",
            concurrency=settings.concurrency,
            request_timeout=settings.request_timeout,
            keepalive_expiry=30.0,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, body: bytes) -> Answer:
        headers = dict(self._headers)
        if self._settings.compression == "gzip":
            body = await compress_body(body, self._settings.gzip_level)
            headers["Content-Encoding"] = CONTENT_ENCODING
        try:
            response = await self._client.post(self._url, headers=headers, content=body)
        except REQUEST_ERRORS as error:
            raise transport_failure(
                error,
                settings=self._settings,
                env_var=env_var,
                where=self._display_url,
                receiver="the OTLP receiver",
                action="POST /v1/logs",
            ) from error
        return Answer(
            response.status_code,
            response.content,
            response.headers.get("Content-Type"),
            response.headers.get("Retry-After"),
        )
