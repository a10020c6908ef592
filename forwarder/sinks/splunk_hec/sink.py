"""The Splunk HEC sink: sends a batch, acts on each answer's verdict, and waits for indexer acks.

What each HEC code means is decided in ``classifier``; this module decides what to do with the
events of a request for each verdict:

* delivered: done, or (with acknowledgement) done once its ack id is confirmed;
* retry: back to the pipeline, which waits and sends them again;
* one bad event (``invalid-event-number`` = N): events before N were accepted, N goes to the
  dead letters, and the events after N, which HEC never looked at, are sent on in this call;
* too large (413): the request is halved until the halves fit; a single event that does not fit
  is dead-lettered rather than retried forever;
* configuration: SinkConfigError, the pipeline stops this sink and keeps the checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from forwarder import tls
from forwarder.sinks._http import tls as http_tls
from forwarder.sinks._http.request_size import cut_to_fit
from forwarder.sinks.base import (
    Event,
    Rejection,
    RetryableError,
    SendResult,
    Sink,
    SinkConfigError,
    Verdict,
)
from forwarder.sinks.splunk_hec.acks import AckTracker
from forwarder.sinks.splunk_hec.classifier import HecOutcome, classify, parse_ack_statuses
from forwarder.sinks.splunk_hec.encoder import SEPARATOR, HecEncoder, join
from forwarder.sinks.splunk_hec.request import EVENT_PATH, HecClient
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings, env_var

logger = logging.getLogger(__name__)


# Not frozen: one is made per event, and a frozen dataclass's __init__ costs several times as much.
@dataclass(slots=True)
class _Item:
    # Position in the batch, so that events sent back for retry keep the batch's (time) order.
    position: int
    event: Event
    encoded: bytes


@dataclass(slots=True)
class _Progress:
    """Where each event of one ``send`` ended up so far."""

    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    retry: list[_Item] = field(default_factory=list)
    retry_reason: str = ""
    retry_after: float | None = None
    # (ack id, the events it covers): accepted by HEC, not yet confirmed as indexed.
    unacknowledged: list[tuple[int, list[_Item]]] = field(default_factory=list)

    def send_again(self, items: Sequence[_Item], reason: str, retry_after: float | None = None) -> None:
        self.retry.extend(items)
        self.retry_reason = reason
        if retry_after is not None:
            self.retry_after = max(retry_after, self.retry_after or 0.0)

    def reject(self, item: _Item, reason: str) -> None:
        self.rejected.append((item.position, Rejection(item.event, reason)))


def _items(batch: Sequence[Event], encoded: list[bytes]) -> list[_Item]:
    return [
        _Item(position, event, body)
        for position, (event, body) in enumerate(zip(batch, encoded, strict=True))
    ]


def _request_size(item: _Item) -> int:
    return len(item.encoded) + len(SEPARATOR)


class SplunkHecSink(Sink):
    name: ClassVar[str] = "splunk_hec"
    settings_model: ClassVar[type[SplunkHecSettings]] = SplunkHecSettings
    settings: SplunkHecSettings

    def __init__(self, settings: SplunkHecSettings) -> None:
        super().__init__(settings)
        self._encoder = HecEncoder(settings)
        self._client: HecClient | None = None
        self._acks: AckTracker | None = None

    async def open(self) -> None:
        if self._client is not None:
            return
        for warning in self.warnings():
            logger.warning(warning)
        self._client = HecClient(self.settings)
        if self.settings.acknowledgements:
            self._acks = AckTracker(self._query_acks, self.settings.ack_poll_interval)

    async def close(self) -> None:
        if self._acks is not None:
            await self._acks.close()
            self._acks = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _opened(self) -> HecClient:
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
            secrets="the HEC token",
        )

    def describe(self) -> str:
        settings = self.settings
        if settings.url.scheme == "http":
            trust = "unencrypted HTTP"
        else:
            trust = tls.describe_trust(settings.tls_ca_file, settings.tls_verify)
            if settings.tls_cert_file is not None:
                trust += ", client certificate"
        acks = (
            f"indexer acknowledgement on (timeout {settings.ack_timeout:g} s)"
            if settings.acknowledgements
            else "indexer acknowledgement off"
        )
        gzip = "gzip" if settings.gzip else "uncompressed"
        return f"{self.name} ({self.format}) to {settings.display_url()}{EVENT_PATH}, {gzip}, {acks}, {trust}"

    # --- delivery ---------------------------------------------------------------------------

    async def send(self, batch: Sequence[Event]) -> SendResult:
        if not batch:
            return SendResult()
        client = await self._opened()
        limit = self.settings.batch_max_bytes
        progress = _Progress()
        # The usual case: the batch fits one request, written in one go (the same bytes as joining
        # the events' objects); per-event objects and items are made only when needed.
        body = self._encoder.body(batch)
        if len(body) + len(SEPARATOR) > limit:
            encoded = self._encoder.encode_all(batch)
            await self._deliver_all(
                client, cut_to_fit(_items(batch, encoded), _request_size, limit), progress
            )
        else:
            try:
                first: HecOutcome | RetryableError = await self._post_body(client, body)
            except RetryableError as error:
                first = error
            if (
                isinstance(first, HecOutcome)
                and first.verdict is Verdict.DELIVERED
                and not self.settings.acknowledgements
            ):
                # Most batches: nothing to record per event.
                return SendResult()
            encoded = self._encoder.encode_all(batch)
            await self._deliver(client, _items(batch, encoded), progress, first)
        if progress.unacknowledged:
            await self._await_acknowledgements(progress)
        return self._result(len(batch), progress)

    async def _deliver_all(self, client: HecClient, requests: list[list[_Item]], progress: _Progress) -> None:
        for number, request in enumerate(requests):
            if not await self._deliver(client, request, progress):
                # HEC asked us to back off: the requests not sent yet wait with this one.
                later = [item for waiting in requests[number + 1 :] for item in waiting]
                progress.send_again(later, progress.retry_reason, progress.retry_after)
                break

    async def _post(self, client: HecClient, items: Sequence[_Item]) -> HecOutcome:
        return await self._post_body(client, join([item.encoded for item in items]))

    async def _post_body(self, client: HecClient, body: bytes) -> HecOutcome:
        answer = await client.post_events(body)
        return classify(answer.status, answer.body, answer.retry_after)

    async def _deliver(
        self,
        client: HecClient,
        items: Sequence[_Item],
        progress: _Progress,
        first: HecOutcome | RetryableError | None = None,
    ) -> bool:
        """Send ``items``, recording where each one ends up; False once HEC asked us to back off.
        ``first``: what sending all of ``items`` already gave, when ``send`` posted them itself."""
        remaining = list(items)
        while remaining:
            try:
                if first is None:
                    outcome = await self._post(client, remaining)
                elif isinstance(first, RetryableError):
                    raise first
                else:
                    outcome = first
                first = None
            except RetryableError as error:
                progress.send_again(remaining, error.reason, error.retry_after)
                return False
            verdict = outcome.verdict
            if verdict is Verdict.DELIVERED:
                self._accepted(remaining, outcome, progress)
                return True
            if verdict is Verdict.RETRY:
                progress.send_again(remaining, outcome.reason, outcome.retry_after)
                return False
            if verdict is Verdict.TOO_LARGE:
                if len(remaining) == 1:
                    progress.reject(
                        remaining[0],
                        f"{outcome.reason}; this one event ({len(remaining[0].encoded)} bytes) is larger "
                        "than the receiver accepts",
                    )
                    return True
                return await self._deliver_halves(client, remaining, progress)
            if verdict is Verdict.REJECT:
                number = outcome.invalid_event_number
                if number is None or not 0 <= number < len(remaining):
                    if len(remaining) == 1:
                        progress.reject(remaining[0], outcome.reason)
                        return True
                    # HEC did not say which event: halving isolates it. Events before it may have
                    # been indexed already and are sent again: a duplicate, never a loss.
                    return await self._deliver_halves(client, remaining, progress)
                self._accepted_without_answer(remaining[:number], outcome, progress)
                progress.reject(remaining[number], outcome.reason)
                # HEC stops at the bad event: the ones after it were never read, so sending them
                # now is the rest of this batch, not a retry.
                remaining = remaining[number + 1 :]
                continue
            if verdict is Verdict.NO_DATA:
                raise SinkConfigError(
                    f"{outcome.reason} to a request of {len(remaining)} events: something between this "
                    f"forwarder and HEC drops request bodies (a proxy that cannot pass gzip? try "
                    f"{env_var('gzip')}=false)"
                )
            raise SinkConfigError(outcome.reason)
        return True

    async def _deliver_halves(self, client: HecClient, items: Sequence[_Item], progress: _Progress) -> bool:
        half = len(items) // 2
        if not await self._deliver(client, items[:half], progress):
            # HEC asked us to back off: the second half waits with the first.
            progress.send_again(items[half:], progress.retry_reason, progress.retry_after)
            return False
        return await self._deliver(client, items[half:], progress)

    def _accepted(self, items: list[_Item], outcome: HecOutcome, progress: _Progress) -> None:
        if not self.settings.acknowledgements:
            return
        if outcome.ack_id is None:
            setting = env_var("acknowledgements")
            raise SinkConfigError(
                f"{setting} is true but HEC answered without an ackId: the token has indexer "
                f"acknowledgement disabled; enable it on the token or set {setting}=false"
            )
        progress.unacknowledged.append((outcome.ack_id, items))

    def _accepted_without_answer(self, items: list[_Item], outcome: HecOutcome, progress: _Progress) -> None:
        # HEC indexes the events before a bad one but gives no ackId for a refused request, so with
        # acknowledgement on nothing confirms them: send them again (at least once, maybe twice).
        if self.settings.acknowledgements and items:
            progress.send_again(
                items, f"accepted before a refused event ({outcome.reason}) but not acknowledged"
            )

    async def _await_acknowledgements(self, progress: _Progress) -> None:
        assert self._acks is not None
        timeout = self.settings.ack_timeout
        acknowledged = await self._acks.wait([ack_id for ack_id, _ in progress.unacknowledged], timeout)
        for ack_id, items in progress.unacknowledged:
            if ack_id not in acknowledged:
                progress.send_again(
                    items, f"no indexer acknowledgement of ack id {ack_id} within {timeout:g} s"
                )
        progress.unacknowledged.clear()

    async def _query_acks(self, ack_ids: list[int]) -> dict[int, bool]:
        client = await self._opened()
        answer = await client.query_acks(ack_ids)
        if answer.status == 200:
            statuses = parse_ack_statuses(answer.body)
            if statuses is not None:
                return statuses
        outcome = classify(answer.status, answer.body, answer.retry_after)
        if outcome.verdict is Verdict.CONFIG:
            raise SinkConfigError(outcome.reason)
        raise RetryableError(f"indexer acknowledgement query: {outcome.reason}", outcome.retry_after)

    def _result(self, size: int, progress: _Progress) -> SendResult:
        if len(progress.retry) == size:
            # Nothing went through: the whole batch is retryable.
            raise RetryableError(progress.retry_reason, progress.retry_after)
        return SendResult(
            rejected=[rejection for _, rejection in sorted(progress.rejected, key=lambda pair: pair[0])],
            retry=[item.event for item in sorted(progress.retry, key=lambda item: item.position)],
            retry_reason=progress.retry_reason,
            retry_after=progress.retry_after,
        )

    # --- check ------------------------------------------------------------------------------

    async def check(self) -> None:
        """Health, then the token, then (if on) acknowledgement; raise on the first problem.

        1. ``GET /services/collector/health`` with the token: code 17 is healthy, 18-20 unhealthy.
        2. ``POST /services/collector/event`` with an empty body: HEC checks the token before the
           body, so code 5 ("No data") proves the token may write, and nothing is indexed.
        3. With acknowledgement on, ``POST /services/collector/ack`` with no ids: code 14 means the
           token has acknowledgement disabled.
        """
        client = await self._opened()
        health = await client.health()
        self._check_verdict(
            "health", classify(health.status, health.body, health.retry_after), Verdict.HEALTHY
        )
        probe = await client.post_empty()
        outcome = classify(probe.status, probe.body, probe.retry_after)
        self._check_verdict("token probe", outcome, Verdict.NO_DATA, Verdict.DELIVERED)
        if self.settings.acknowledgements:
            await self._query_acks([])

    def _check_verdict(self, step: str, outcome: HecOutcome, *good: Verdict) -> None:
        if outcome.verdict in good:
            return
        if outcome.verdict is Verdict.RETRY:
            raise RetryableError(f"{step}: {outcome.reason}", outcome.retry_after)
        if outcome.verdict is Verdict.CONFIG:
            raise SinkConfigError(outcome.reason)
        raise SinkConfigError(f"{step}: unexpected answer {outcome.reason}; is {env_var('url')} a HEC?")
