"""The Elasticsearch/OpenSearch sink: `_bulk` into data streams (or indices), exactly once by id.

A batch is encoded once (:mod:`.encoder`), cut into `_bulk` requests of at most ``batch_max_bytes``
(action lines included), posted, and each answer classified item by item (:mod:`.classifier`).
Delivered events need nothing more; `retry` and `rejected` go back to the pipeline. A request too
large for the cluster is split here, because only the sink knows the answer meant "too large"
rather than "try later".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx

from forwarder.records import LogType
from forwarder.sinks._http import tls as http_tls
from forwarder.sinks._http.client import PreparedRequest
from forwarder.sinks._http.compression import compress_body
from forwarder.sinks.base import Event, Rejection, RetryableError, SendResult, Sink, SinkConfigError, Verdict
from forwarder.sinks.elasticsearch.classifier import DELIVERED, BulkAnswer, classify_bulk_response
from forwarder.sinks.elasticsearch.encoder import BulkEncoder, EncodedBatch
from forwarder.sinks.elasticsearch.probe import check_cluster
from forwarder.sinks.elasticsearch.request import bulk_headers, bulk_params, make_client, send
from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings, env_var
from forwarder.sinks.elasticsearch.template import ensure_template

logger = logging.getLogger(__name__)


class ElasticsearchSink(Sink):
    name = "elasticsearch"
    settings_model = ElasticsearchSettings

    def __init__(self, settings: ElasticsearchSettings) -> None:
        super().__init__(settings)
        self.settings: ElasticsearchSettings = settings
        self._encoder = BulkEncoder(
            {log_type: settings.target_for(log_type) for log_type in LogType},
            action="create" if settings.target_type == "data_stream" else "index",
            add_timestamp=settings.target_type == "data_stream",
        )
        self._bulk = PreparedRequest(
            "POST", "/_bulk", params=bulk_params(settings.pipeline), headers=bulk_headers(settings.gzip)
        )
        self._client: httpx.AsyncClient | None = None
        self._template_lock = asyncio.Lock()
        self._template_ready = not settings.bootstrap_template

    def describe(self) -> str:
        targets = ", ".join(self.settings.checked_targets())
        kind = self.settings.target_type
        return f"{self.name} ({self.format}) to {self.settings.base_url()}, {kind}s {targets}"

    def warnings(self) -> list[str]:
        url = self.settings.base_url()
        return http_tls.warnings(
            self.settings, env_var, url=url, shown_url=url, secrets=self._secrets_named()
        )

    def _secrets_named(self) -> str | None:
        settings = self.settings
        if settings.api_key is not None:
            return "the API key"
        if settings.password is not None:
            return f"the password of {settings.username}"
        if settings.bearer_token is not None:
            return "the bearer token"
        return None

    async def open(self) -> None:
        if self._client is None:
            for warning in self.warnings():
                logger.warning(warning)
            self._client = make_client(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> None:
        await check_cluster(await self._connection(), self.settings)

    async def send(self, batch: Sequence[Event]) -> SendResult:
        client = await self._connection()
        if not self._template_ready:
            await self._bootstrap(client)
        encoded = self._encoder.encode(batch)
        result = SendResult(rejected=list(encoded.rejected))
        requests = encoded.requests(self.settings.batch_max_bytes)
        if len(requests) == 1:
            await self._deliver(client, requests[0], result, whole_batch=True)
        elif requests:
            await self._deliver_each(client, requests, result)
        return result

    async def _deliver_each(
        self, client: httpx.AsyncClient, requests: list[EncodedBatch], result: SendResult
    ) -> None:
        """A batch larger than ``batch_max_bytes`` on the wire, one `_bulk` request after another."""
        for number, encoded in enumerate(requests):
            if not await self._deliver(client, encoded, result, whole_batch=False):
                # The cluster asked us to back off: the requests not sent yet wait with this one.
                later = [event for waiting in requests[number + 1 :] for event in waiting.events]
                _retry(result, later, result.retry_reason, None)
                break
        if not result.rejected and len(result.retry) == sum(len(encoded.events) for encoded in requests):
            # Nothing went through: the whole batch is retryable, as it is when it fits one request.
            raise RetryableError(result.retry_reason, result.retry_after)

    async def _connection(self) -> httpx.AsyncClient:
        await self.open()
        assert self._client is not None
        return self._client

    async def _bootstrap(self, client: httpx.AsyncClient) -> None:
        async with self._template_lock:
            if not self._template_ready:
                await ensure_template(client, self.settings)
                self._template_ready = True

    async def _deliver(
        self, client: httpx.AsyncClient, encoded: EncodedBatch, result: SendResult, whole_batch: bool
    ) -> bool:
        """Send ``encoded``, recording where each event ends up; False once the cluster asked us to
        back off (only when not ``whole_batch``, which raises RetryableError instead)."""
        try:
            answer = await self._post(client, encoded)
            whole = answer.whole
            if whole is not None and whole.verdict is Verdict.RETRY:
                raise RetryableError(whole.reason, whole.retry_after)
        except RetryableError as error:
            # The caller's batch as a whole is retryable only if nothing of it was settled yet;
            # the part of a split batch is handed back as events to retry instead.
            if whole_batch:
                raise
            _retry(result, encoded.events, error.reason, error.retry_after)
            return False
        if whole is None:
            self._settle_items(encoded, answer, result)
        elif whole.verdict is Verdict.TOO_LARGE:
            if len(encoded.events) == 1:
                result.rejected.append(
                    Rejection(encoded.events[0], f"{whole.reason}, even for this event alone")
                )
                return True
            for half in encoded.halves():
                await self._deliver(client, half, result, whole_batch=False)
        else:
            raise SinkConfigError(whole.reason)
        return True

    async def _post(self, client: httpx.AsyncClient, encoded: EncodedBatch) -> BulkAnswer:
        body = encoded.body()
        if self.settings.gzip:
            body = await compress_body(body, self.settings.gzip_level)
        response = await send(client, self.settings, self._bulk, body)
        return classify_bulk_response(
            response.status_code,
            response.content,
            len(encoded.events),
            retry_after=response.headers.get("Retry-After"),
            auth_variables=self.settings.auth_variables(),
            location=response.headers.get("Location"),
        )

    @staticmethod
    def _settle_items(encoded: EncodedBatch, answer: BulkAnswer, result: SendResult) -> None:
        config_problems: list[str] = []
        retry_events: list[Event] = []
        retry_reason = ""
        retry_after: float | None = None
        if len(answer.items) == len(encoded.events) == answer.items.count(DELIVERED):
            # Every item delivered (`errors: false` answers this shared outcome): a count in C.
            return
        for event, outcome in zip(encoded.events, answer.items, strict=True):
            if outcome.verdict is Verdict.RETRY:
                retry_events.append(event)
                retry_reason = retry_reason or outcome.reason
                retry_after = outcome.retry_after if retry_after is None else retry_after
            elif outcome.verdict is Verdict.REJECT:
                result.rejected.append(Rejection(event, outcome.reason))
            elif outcome.verdict is Verdict.CONFIG:
                config_problems.append(outcome.reason)
        if config_problems:
            # Delivered items of this batch answer 409 when it is replayed after the fix.
            more = f" (and {len(config_problems) - 1} more events)" if len(config_problems) > 1 else ""
            raise SinkConfigError(config_problems[0] + more)
        if retry_events:
            reason = f"{len(retry_events)} of {len(encoded.events)} events: {retry_reason}"
            _retry(result, retry_events, reason, retry_after)


def _retry(result: SendResult, events: list[Event], reason: str, retry_after: float | None) -> None:
    result.retry.extend(events)
    result.retry_reason = result.retry_reason or reason
    if retry_after is not None:
        result.retry_after = max(retry_after, result.retry_after or 0.0)
