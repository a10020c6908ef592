"""Requests to the Logs Ingestion API: the path, the headers, the bearer token, compressed bodies, and what
a request that got no answer means.

This module puts bytes on the wire and gets an answer back; what the answer means is ``classifier``'s
business, and what to do about it is the sink's.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from forwarder import __version__
from forwarder.records import LogType
from forwarder.sinks._http.client import make_client
from forwarder.sinks._http.compression import CONTENT_ENCODING, compress_body
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.sentinel.credentials import TokenSource
from forwarder.sinks.sentinel.settings import API_VERSION, SentinelSettings, env_var


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


class IngestionClient:
    """One pooled keep-alive client to one data collection endpoint, with a token on every request."""

    def __init__(
        self,
        settings: SentinelSettings,
        tokens: TokenSource,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._base_url = str(settings.url).rstrip("/")
        self._display_url = settings.display_url()
        self._client = make_client(
            settings,
            env_var,
            what="the data collection endpoint",
            concurrency=settings.concurrency,
            request_timeout=settings.request_timeout,
            keepalive_expiry=30.0,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post_rows(self, log_type: LogType, body: bytes) -> Answer:
        """``body`` (a JSON array) to the stream of ``log_type``. A 401 is answered once more with a token
        from a renewed credential: the service refused a token the credential's cache still holds, which a
        new token fixes; re-authenticating is part of the protocol, not a retry."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"cloudflare-siem-forwarder/{__version__}",
        }
        if self._settings.gzip:
            body = await compress_body(body, self._settings.gzip_level)
            headers["Content-Encoding"] = CONTENT_ENCODING
        path = self._settings.ingestion_path(log_type)
        answer = await self._post(path, headers, body)
        if answer.status == 401:
            self._tokens.renew()
            answer = await self._post(path, headers, body)
        return answer

    async def _post(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        token = await self._tokens.token()
        url = f"{self._base_url}{path}"
        try:
            response = await self._client.post(
                url,
                params={"api-version": API_VERSION},
                headers={**headers, "Authorization": f"Bearer {token}"},
                content=body,
            )
        except REQUEST_ERRORS as error:
            raise transport_failure(
                error,
                settings=self._settings,
                env_var=env_var,
                where=self._display_url,
                receiver="the data collection endpoint",
                action=f"POST {path}",
            ) from error
        return Answer(response.status_code, response.content, response.headers.get("Retry-After"))
