"""Requests to HEC: the paths, the headers, compressed bodies, and what a request that got no answer means.

This module knows how to put bytes on the wire and get an answer back; what the answer means is
``classifier``'s business, and what to do about it is the sink's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import idna
import orjson

from forwarder import __version__
from forwarder.sinks._http.client import PreparedRequest, make_client
from forwarder.sinks._http.compression import CONTENT_ENCODING, compress_body
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.base import SinkError
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings, env_var

EVENT_PATH = "/services/collector/event"
ACK_PATH = "/services/collector/ack"
HEALTH_PATH = "/services/collector/health"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


class HecClient:
    """One pooled keep-alive client to one HEC, with the headers every request carries."""

    def __init__(
        self, settings: SplunkHecSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        # People paste the full collector URL from Splunk's docs; the paths are added here.
        self._base_url = (
            str(settings.url).rstrip("/").removesuffix(EVENT_PATH).removesuffix("/services/collector")
        )
        # Messages name the receiver without credentials a URL may carry.
        self._display_url = settings.display_url()
        # One channel per sink instance, i.e. per process: HEC keeps ack ids per channel.
        self.channel = str(uuid.uuid4())
        token = settings.token.get_secret_value().strip()
        # People paste the header value from Splunk's docs; "Splunk Splunk <token>" is code 3.
        token = token.removeprefix("Splunk ").strip()
        self._headers = {
            "Authorization": f"Splunk {token}",
            "User-Agent": f"cloudflare-siem-forwarder/{__version__}",
        }
        if settings.acknowledgements:
            self._headers["X-Splunk-Request-Channel"] = self.channel
        events_headers = dict(self._headers)
        events_headers["Content-Type"] = "application/json"
        if settings.gzip:
            events_headers["Content-Encoding"] = CONTENT_ENCODING
        # The request of every batch, merged with the client once.
        self._events = PreparedRequest("POST", f"{self._base_url}{EVENT_PATH}", headers=events_headers)
        self._client = make_client(
            settings,
            env_var,
            what="HEC",
            concurrency=settings.concurrency,
            request_timeout=settings.request_timeout,
            keepalive_expiry=30.0,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post_events(self, body: bytes) -> Answer:
        if self._settings.gzip:
            body = await compress_body(body, self._settings.gzip_level)
        return await self._send(self._events, body)

    async def post_empty(self) -> Answer:
        """An event request without events: HEC checks the token first, then answers code 5."""
        headers = dict(self._headers)
        headers["Content-Type"] = "application/json"
        return await self._request("POST", EVENT_PATH, headers, b"")

    async def query_acks(self, ack_ids: list[int]) -> Answer:
        headers = dict(self._headers)
        headers["Content-Type"] = "application/json"
        return await self._request("POST", ACK_PATH, headers, orjson.dumps({"acks": ack_ids}))

    async def health(self) -> Answer:
        return await self._request("GET", HEALTH_PATH, dict(self._headers), None)

    async def _request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        url = f"{self._base_url}{path}"
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except REQUEST_ERRORS as error:
            raise self._failure(error, method, path) from error
        return Answer(response.status_code, response.content, response.headers.get("Retry-After"))

    async def _send(self, prepared: PreparedRequest, body: bytes) -> Answer:
        """``prepared`` with ``body``, as :meth:`_request` sends it and with the same errors."""
        try:
            response = await self._client.send(prepared.build(self._client, body))
        except REQUEST_ERRORS as error:
            raise self._failure(error, prepared.method, EVENT_PATH) from error
        return Answer(response.status_code, response.content, response.headers.get("Retry-After"))

    def _failure(
        self, error: httpx.TransportError | httpx.InvalidURL | idna.IDNAError, method: str, path: str
    ) -> SinkError:
        return transport_failure(
            error,
            settings=self._settings,
            env_var=env_var,
            where=self._display_url,
            receiver="HEC",
            action=f"{method} {path}",
        )
