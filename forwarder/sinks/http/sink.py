"""The generic HTTP sink: batches of documents POSTed as NDJSON or a JSON array, each answer acted on.

What a status means is decided in ``classifier``; this module decides what to do with the events of
a request for each verdict:

* delivered: done;
* retry (``RETRY_STATUSES``, network trouble): this request and the ones not sent yet go back to the
  pipeline, which waits (at least ``Retry-After``) and sends them again;
* too large (413): the request is halved until the halves fit; a single event that does not fit is
  dead-lettered;
* refused (another 4xx or 5xx): a generic intake does not say which event it could not take, so the
  request is halved until the event is alone, then dead-lettered; the rest is delivered;
* configuration (credentials, URL): SinkConfigError, the pipeline stops this sink.

An event larger than the receiver's documented limit for one entry (Datadog: 1 MB, which it would
truncate and accept) is dead-lettered whole before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from forwarder.sinks._http import tls as http_tls
from forwarder.sinks._http.delivery import Item, Progress, deliver_halves, deliver_in_turn
from forwarder.sinks._http.request_size import cut_to_fit
from forwarder.sinks.base import Event, RetryableError, SendResult, Sink, SinkConfigError, Verdict
from forwarder.sinks.http.classifier import classify
from forwarder.sinks.http.encoder import body, size_in_request
from forwarder.sinks.http.request import HttpIntakeClient
from forwarder.sinks.http.settings import HttpSettings, env_var

logger = logging.getLogger(__name__)

_Item = Item[bytes]
_Progress = Progress[bytes]


class HttpSink(Sink):
    name: ClassVar[str] = "http"
    settings_model: ClassVar[type[HttpSettings]] = HttpSettings
    settings: HttpSettings

    def __init__(self, settings: HttpSettings) -> None:
        super().__init__(settings)
        self._client: HttpIntakeClient | None = None

    async def open(self) -> None:
        if self._client is not None:
            return
        for warning in self.warnings():
            logger.warning(warning)
        self._client = HttpIntakeClient(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _opened(self) -> HttpIntakeClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    def warnings(self) -> list[str]:
        settings = self.settings
        secrets = [
            env_var(name)
            for name, value in (
                ("api_key", settings.api_key),
                ("bearer_token", settings.bearer_token),
                ("basic_password", settings.basic_password),
            )
            if value is not None
        ]
        if settings.headers:
            secrets.append(env_var("headers"))
        return http_tls.warnings(
            settings,
            env_var,
            url=str(settings.address),
            shown_url=settings.display_url(),
            secrets=f"the credentials of {', '.join(secrets)}" if secrets else None,
        )

    def describe(self) -> str:
        settings = self.settings
        trust = http_tls.describe(settings, settings.address.scheme)
        preset = "" if settings.preset == "none" else f"{settings.preset} preset, "
        gzip = "gzip" if settings.gzip else "uncompressed"
        where = settings.display_url()
        return f"{self.name} ({self.format}) to {where}, {preset}{settings.encoding}, {gzip}, {trust}"

    # --- delivery ---------------------------------------------------------------------------

    async def send(self, batch: Sequence[Event]) -> SendResult:
        if not batch:
            return SendResult()
        client = await self._opened()
        progress: _Progress = Progress()
        items = self._items(batch, progress)
        requests = cut_to_fit(items, lambda item: item.size, self.settings.batch_max_bytes)
        await deliver_in_turn(requests, lambda request: self._deliver(client, request, progress), progress)
        return progress.result(len(batch))

    def _items(self, batch: Sequence[Event], progress: _Progress) -> list[_Item]:
        """The events to send; one larger than the receiver takes is dead-lettered whole."""
        limit = self.settings.preset_limits().max_event_bytes
        items = []
        for position, event in enumerate(batch):
            item: _Item = Item(position, event, event.body, size_in_request(event.body))
            if limit is not None and len(event.body) > limit:
                progress.reject(
                    [item],
                    f"the event ({len(event.body)} bytes) is larger than {self.settings.preset} takes for "
                    f"one entry ({limit} bytes), which it would truncate",
                )
                continue
            items.append(item)
        return items

    async def _deliver(self, client: HttpIntakeClient, items: Sequence[_Item], progress: _Progress) -> bool:
        """Send ``items``, recording where each one ends up; False once the receiver asked us to back off."""
        assert self.settings.encoding is not None
        try:
            answer = await client.post(body([item.encoded for item in items], self.settings.encoding))
        except RetryableError as error:
            progress.send_again(items, error.reason, error.retry_after)
            return False
        outcome = classify(answer.status, answer.body, answer.retry_after, self.settings.retry_statuses)
        verdict = outcome.verdict
        if verdict is Verdict.DELIVERED:
            return True
        if verdict is Verdict.RETRY:
            progress.send_again(items, outcome.reason, outcome.retry_after)
            return False
        if verdict in (Verdict.TOO_LARGE, Verdict.REJECT):
            if len(items) == 1:
                progress.reject(items, outcome.reason)
                return True
            # Smaller requests fit, or isolate the event the receiver could not take.
            return await deliver_halves(items, lambda half: self._deliver(client, half, progress), progress)
        raise SinkConfigError(outcome.reason)
