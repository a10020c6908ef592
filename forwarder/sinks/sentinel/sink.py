"""The Microsoft Sentinel sink: rows to the Azure Monitor Logs Ingestion API, one stream per log type.

What each answer means is decided in ``classifier``; this module decides what to do with the events of a
request for each verdict:

* delivered (204): done;
* retry (429, 503 with ``Retry-After``, other 5xx, network): back to the pipeline, with the requests of the
  batch not sent yet, which wait with it;
* too large (413) or refused (400): the request is halved until the halves pass; a single event that is
  still refused goes to the dead letters with the reason, the rest of its batch is delivered;
* configuration (401, 403, 404, a token Entra ID will not issue): SinkConfigError, the pipeline stops this
  sink and keeps the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from forwarder.records import LogType
from forwarder.sinks._http import tls as http_tls
from forwarder.sinks._http.delivery import Item, Progress, deliver_halves, deliver_in_turn
from forwarder.sinks._http.request_size import cut_to_fit
from forwarder.sinks.base import (
    Event,
    Outcome,
    RetryableError,
    SendResult,
    Sink,
    SinkConfigError,
    Verdict,
)
from forwarder.sinks.sentinel.classifier import classify
from forwarder.sinks.sentinel.credentials import TokenSource
from forwarder.sinks.sentinel.encoder import BRACKETS, EMPTY, join, row_size
from forwarder.sinks.sentinel.request import IngestionClient
from forwarder.sinks.sentinel.settings import SentinelSettings, env_var

logger = logging.getLogger(__name__)


# Each event keeps its position in the batch and its row (the pipeline's bytes) with the row's size.
# (Aliases for annotations only: a slotted generic dataclass is built unparameterised.)
_Item = Item[bytes]
_Progress = Progress[bytes]


def _request_size(item: _Item) -> int:
    return item.size


class SentinelSink(Sink):
    name: ClassVar[str] = "sentinel"
    settings_model: ClassVar[type[SentinelSettings]] = SentinelSettings
    # One stream each in the data collection rule.
    log_types: ClassVar[frozenset[LogType] | None] = frozenset(
        {LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES, LogType.AUDIT_LOGS}
    )
    settings: SentinelSettings

    def __init__(self, settings: SentinelSettings) -> None:
        super().__init__(settings)
        self._tokens: TokenSource | None = None
        self._client: IngestionClient | None = None

    async def open(self) -> None:
        if self._client is not None:
            return
        for warning in self.warnings():
            logger.warning(warning)
        self._tokens = TokenSource(self.settings)
        self._client = IngestionClient(self.settings, self._tokens)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._tokens is not None:
            await self._tokens.close()
            self._tokens = None

    async def _opened(self) -> IngestionClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    def warnings(self) -> list[str]:
        settings = self.settings
        return http_tls.warnings(
            settings,
            env_var,
            url=str(settings.url),
            shown_url=settings.display_url(),
            secrets="the Entra ID token",
        )

    def describe(self) -> str:
        settings = self.settings
        trust = http_tls.describe(settings, settings.url.scheme)
        streams = " and ".join(settings.stream_for(log_type) for log_type in sorted(self.log_types or ()))
        gzip = "gzip" if settings.gzip else "uncompressed"
        rule = f"{settings.display_url()}/dataCollectionRules/{settings.rule_id}"
        return (
            f"{self.name} ({self.format}) to {rule}, "
            f"streams {streams}, {settings.credential} credential, {gzip}, {trust}"
        )

    # --- delivery ---------------------------------------------------------------------------

    async def send(self, batch: Sequence[Event]) -> SendResult:
        if not batch:
            return SendResult()
        client = await self._opened()
        progress: _Progress = Progress()
        rows: list[_Item] = [
            Item(position, event, event.body, row_size(event.body)) for position, event in enumerate(batch)
        ]
        await deliver_in_turn(
            self._requests(rows), lambda request: self._deliver(client, request, progress), progress
        )
        return progress.result(len(batch))

    def _requests(self, items: list[_Item]) -> list[list[_Item]]:
        """The batch by stream (one per log type), each cut into requests of at most ``batch_max_bytes``."""
        by_type: dict[LogType, list[_Item]] = {}
        for item in items:
            by_type.setdefault(item.event.log_type, []).append(item)
        # The brackets and the comma the first row does not need: what `join` adds to the rows' sizes.
        limit = self.settings.batch_max_bytes - BRACKETS + 1
        return [run for typed in by_type.values() for run in cut_to_fit(typed, _request_size, limit)]

    async def _post(self, client: IngestionClient, log_type: LogType, items: Sequence[_Item]) -> Outcome:
        answer = await client.post_rows(log_type, join([item.encoded for item in items]))
        stream_variable = env_var(f"stream_{log_type.value}")
        return classify(answer.status, answer.body, answer.retry_after, stream_variable=stream_variable)

    async def _deliver(self, client: IngestionClient, items: Sequence[_Item], progress: _Progress) -> bool:
        """Send ``items`` (of one log type: one stream), recording where each one ends up; False once the
        service asked us to back off."""
        try:
            outcome = await self._post(client, items[0].event.log_type, items)
        except RetryableError as error:
            progress.send_again(items, error.reason, error.retry_after)
            return False
        verdict = outcome.verdict
        if verdict is Verdict.DELIVERED:
            return True
        if verdict is Verdict.RETRY:
            progress.send_again(items, outcome.reason, outcome.retry_after)
            return False
        if verdict in (Verdict.TOO_LARGE, Verdict.REJECT):
            if len(items) == 1:
                size = len(items[0].event.body)
                progress.reject(items, f"{outcome.reason} (this one event, {size} bytes, was refused alone)")
                return True
            # The service says nothing about which row: halving finds it, and the rest goes through.
            return await deliver_halves(items, lambda half: self._deliver(client, half, progress), progress)
        raise SinkConfigError(outcome.reason)

    # --- check ------------------------------------------------------------------------------

    async def check(self) -> None:
        """A token, then an empty array to each stream; raise on the first problem.

        The token proves the credential settings (Entra ID issued it). An empty JSON array posted to a
        stream is a whole ingestion request without a row: the service checks the token's audience, the
        rule (404), the role on it (403) and the stream (404) before it reads rows, and with none there is
        nothing to store. So a 204 for each stream proves that events of every log type would be taken,
        and writes no event.
        """
        client = await self._opened()
        for log_type in sorted(self.log_types or ()):
            answer = await client.post_rows(log_type, EMPTY)
            stream_variable = env_var(f"stream_{log_type.value}")
            outcome = classify(
                answer.status, answer.body, answer.retry_after, stream_variable=stream_variable
            )
            step = f"probe of {stream_variable}={self.settings.stream_for(log_type)}"
            if outcome.verdict is Verdict.DELIVERED:
                continue
            if outcome.verdict is Verdict.RETRY:
                raise RetryableError(f"{step}: {outcome.reason}", outcome.retry_after)
            raise SinkConfigError(f"{step}: {outcome.reason}")
