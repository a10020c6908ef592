"""The OTLP logs sink: LogRecords posted to ``/v1/logs``, and each answer's verdict acted on.

What an answer means is decided in ``classifier``; this module decides what to do with the events of
a request for each verdict:

* delivered: done; with a partial success the refused records are dead-lettered with the server's
  message. The specification says how many, not which: when only some of a request's records were
  refused, every record of that request is dead-lettered, so that none is lost (the dead letters may
  then repeat up to the rest, which ``log.record.uid`` identifies). Nothing is sent again: the
  specification forbids retrying a partial success;
* retry (429, 502-504, network trouble): this request and the ones not sent yet go back to the
  pipeline, which waits (at least ``Retry-After``) and sends them again. The SDK exporter's own retry
  is not used: it would hide which events were delivered from the pipeline;
* too large (413): the request is halved until the halves fit; a single record that does not fit is
  dead-lettered;
* refused (any other 4xx/5xx, permanent per the specification): the request's records are dead-lettered;
* configuration (credentials, endpoint, encoding): SinkConfigError, the pipeline stops this sink.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from forwarder.sinks._http import tls as http_tls
from forwarder.sinks._http.delivery import Item, Progress, deliver_halves, deliver_in_turn
from forwarder.sinks._http.request_size import cut_to_fit
from forwarder.sinks.base import Event, RetryableError, SendResult, Sink, SinkConfigError, Verdict
from forwarder.sinks.otlp.classifier import OtlpOutcome, classify
from forwarder.sinks.otlp.encoder import OtlpEncoder
from forwarder.sinks.otlp.request import OtlpClient
from forwarder.sinks.otlp.settings import OtlpSettings, env_var
from forwarder.telemetry.exporters import resource

logger = logging.getLogger(__name__)

# Room for the Resource and scope around a request's records, per account (measured: about 400 bytes
# with three OTEL_RESOURCE_ATTRIBUTES; a round number, since the limit guards proxies).
_ENVELOPE_BYTES = 1024
# A LogRecord's field tag and length inside its ScopeLogs.
_RECORD_FRAMING = 6

_Item = Item[LogRecord]
_Progress = Progress[LogRecord]


def resource_attributes() -> dict[str, Any]:
    """``service.name`` (default ``cloudflare-siem-forwarder``), ``service.version`` and whatever
    ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` say, as the forwarder's own telemetry has them;
    without ``telemetry.sdk.*``, which would claim the OpenTelemetry SDK made these records."""
    attributes: Mapping[str, Any] = resource().attributes
    return {key: value for key, value in attributes.items() if not key.startswith("telemetry.sdk.")}


class OtlpSink(Sink):
    name: ClassVar[str] = "otlp"
    settings_model: ClassVar[type[OtlpSettings]] = OtlpSettings
    settings: OtlpSettings

    def __init__(self, settings: OtlpSettings) -> None:
        super().__init__(settings)
        self._encoder = OtlpEncoder(resource_attributes(), settings.protocol)
        self._client: OtlpClient | None = None

    async def open(self) -> None:
        if self._client is not None:
            return
        for warning in self.warnings():
            logger.warning(warning)
        self._client = OtlpClient(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _opened(self) -> OtlpClient:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    def warnings(self) -> list[str]:
        settings = self.settings
        return http_tls.warnings(
            settings,
            env_var,
            url=str(settings.endpoint),
            shown_url=settings.display_url(),
            secrets=f"the headers of {env_var('headers')}" if settings.headers else None,
        )

    def describe(self) -> str:
        settings = self.settings
        trust = http_tls.describe(settings, settings.endpoint.scheme)
        compression = "gzip" if settings.compression == "gzip" else "uncompressed"
        return (
            f"{self.name} ({self.format}) to {settings.display_url()}, {settings.protocol}, "
            f"{compression}, {trust}"
        )

    # --- delivery ---------------------------------------------------------------------------

    async def send(self, batch: Sequence[Event]) -> SendResult:
        if not batch:
            return SendResult()
        client = await self._opened()
        items = [self._item(position, event) for position, event in enumerate(batch)]
        progress: _Progress = Progress()
        requests = self._requests(items)
        await deliver_in_turn(requests, lambda request: self._deliver(client, request, progress), progress)
        return progress.result(len(batch))

    def _item(self, position: int, event: Event) -> _Item:
        log_record = self._encoder.log_record(event)
        return Item(position, event, log_record, log_record.ByteSize() + _RECORD_FRAMING)

    def _requests(self, items: list[_Item]) -> list[list[_Item]]:
        """The batch cut into requests of at most ``batch_max_bytes`` (protobuf) bytes."""
        accounts = len({item.event.record.account_id for item in items})
        limit = max(self.settings.batch_max_bytes - accounts * _ENVELOPE_BYTES, 1)
        return cut_to_fit(items, lambda item: item.size, limit)

    async def _post(self, client: OtlpClient, items: Sequence[_Item]) -> OtlpOutcome:
        request = self._encoder.request((item.event.record, item.encoded) for item in items)
        answer = await client.post(self._encoder.serialize(request))
        return classify(answer.status, answer.body, answer.content_type, answer.retry_after)

    async def _deliver(self, client: OtlpClient, items: Sequence[_Item], progress: _Progress) -> bool:
        """Send ``items``, recording where each one ends up; False once the receiver asked us to back off."""
        try:
            outcome = await self._post(client, items)
        except RetryableError as error:
            progress.send_again(items, error.reason, error.retry_after)
            return False
        verdict = outcome.verdict
        if verdict is Verdict.DELIVERED:
            self._partial_success(items, outcome, progress)
            return True
        if verdict is Verdict.RETRY:
            progress.send_again(items, outcome.reason, outcome.retry_after)
            return False
        if verdict is Verdict.TOO_LARGE:
            if len(items) == 1:
                progress.reject(
                    items,
                    f"{outcome.reason}; this one record ({items[0].size} bytes) is larger than the receiver "
                    "accepts",
                )
                return True
            return await deliver_halves(items, lambda half: self._deliver(client, half, progress), progress)
        if verdict is Verdict.REJECT:
            progress.reject(items, outcome.reason)
            return True
        raise SinkConfigError(outcome.reason)

    def _partial_success(self, items: Sequence[_Item], outcome: OtlpOutcome, progress: _Progress) -> None:
        if outcome.rejected <= 0:
            if outcome.message:
                logger.warning("the OTLP receiver accepted every record with a warning: %s", outcome.message)
            return
        total = len(items)
        if outcome.rejected >= total:
            reason = f"the OTLP receiver rejected the record (partial success): {outcome.message}"
        else:
            reason = (
                f"the OTLP receiver rejected {outcome.rejected} of the {total} records of this request "
                f"(partial success) without saying which, so all {total} are dead-lettered: {outcome.message}"
            )
        logger.warning("%s", reason)
        progress.reject(items, reason)

    # --- check ------------------------------------------------------------------------------

    async def check(self) -> None:
        """An export request without records: the receiver must accept it (proving the address, the
        encoding and the credentials) and nothing is written."""
        client = await self._opened()
        answer = await client.post(self._encoder.serialize(self._encoder.request([])))
        outcome = classify(answer.status, answer.body, answer.content_type, answer.retry_after)
        if outcome.verdict is Verdict.DELIVERED:
            return
        if outcome.verdict is Verdict.RETRY:
            raise RetryableError(f"empty export request: {outcome.reason}", outcome.retry_after)
        if outcome.verdict is Verdict.CONFIG:
            raise SinkConfigError(outcome.reason)
        raise SinkConfigError(
            f"empty export request: unexpected answer {outcome.reason}; is {env_var('endpoint')} an OTLP "
            "logs endpoint?"
        )
