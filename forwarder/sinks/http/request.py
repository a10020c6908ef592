"""Requests to an HTTP intake: the URL, the headers and authentication, compressed bodies, and what a
request that got no answer means. What an answer means is ``classifier``'s business."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from forwarder import __version__
from forwarder.sinks._http.client import make_client
from forwarder.sinks._http.compression import CONTENT_ENCODING, compress_body
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.http.encoder import CONTENT_TYPES
from forwarder.sinks.http.settings import HttpSettings, env_var


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


def auth_headers(settings: HttpSettings) -> dict[str, str]:
    """The one way of authenticating the settings name, as headers."""
    if settings.bearer_token is not None:
        return {"Authorization": f"Bearer {settings.bearer_token.get_secret_value()}"}
    if settings.api_key is not None:
        return {settings.api_key_header: settings.api_key.get_secret_value()}
    return {}


class HttpIntakeClient:
    """One pooled keep-alive client to one intake, with the headers every request carries."""

    def __init__(self, settings: HttpSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._url = str(settings.address)
        self._display_url = settings.display_url()
        assert settings.encoding is not None  # the preset fills it in
        headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
        headers.update(auth_headers(settings))
        headers["Content-Type"] = CONTENT_TYPES[settings.encoding]
        headers["User-Agent"] = f"cloudflare-siem-forwarder/{__version__}"
        self._headers = headers
        self._client = make_client(
            settings,
            env_var,
            what="the HTTP intake",
            concurrency=settings.concurrency,
            request_timeout=settings.request_timeout,
            keepalive_expiry=30.0,
            transport=transport,
        )
        if settings.basic_password is not None:
            self._client.auth = httpx.BasicAuth(
                settings.basic_user, settings.basic_password.get_secret_value()
            )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, body: bytes) -> Answer:
        headers = dict(self._headers)
        if self._settings.gzip:
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
                receiver="the HTTP intake",
                action="POST",
            ) from error
        return Answer(response.status_code, response.content, response.headers.get("Retry-After"))
