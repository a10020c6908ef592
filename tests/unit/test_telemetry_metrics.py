"""What the pipeline and the sink workers count: every event is sent, rejected or expired, once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from forwarder.pipeline.dead_letters import DeadLetters
from forwarder.pipeline.fan_out import Pipeline
from forwarder.pipeline.instruments import PipelineInstruments, sink_retry_reason
from forwarder.retry import Backoff
from forwarder.sinks.base import Rejection, RetryableError, SendResult, SinkConfigError
from forwarder.source.instruments import SourceInstruments, cloudflare_retry_reason
from tests.support.access_records import ACCOUNT, records
from tests.support.memory_sink import MemorySink, MemorySinkSettings, fail_once
from tests.support.telemetry import Recorded

STREAM = f"{ACCOUNT}/access_requests"


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


def memory(script: Sequence[Any] = (), **settings: Any) -> MemorySink:
    options: dict[str, Any] = {"batch_max_age": 0.01} | settings
    return MemorySink(MemorySinkSettings(**options), script=script)


def pipeline(tmp_path: Path, recorded: Recorded, *sinks: MemorySink, max_age: float = 3600) -> Pipeline:
    return Pipeline(
        list(sinks),
        DeadLetters(tmp_path / "dlq.ndjson"),
        backoff=Backoff(0.001, 0.01),
        max_event_age=max_age,
        telemetry=recorded.telemetry.instruments(PipelineInstruments),
    )


async def test_every_event_is_counted_as_mapped_and_sent_per_sink_and_stream(
    tmp_path: Path, recorded: Recorded
) -> None:
    first, second = memory(batch_max_events=4), memory()
    second.name = "second"  # type: ignore[misc]
    flow = pipeline(tmp_path, recorded, first, second)
    await flow.open()
    await flow.deliver(records(10))
    await flow.close()
    assert recorded.total("forwarder.events.mapped", stream=STREAM, format="raw") == 10
    for sink in ("memory", "second"):
        assert (
            recorded.total("forwarder.events.sent", sink=sink, stream=STREAM, log_type="access_requests")
            == 10
        )
    # Batches: 4 + 4 + 2 for the first sink; the histogram's count is the number of sends.
    assert recorded.total("forwarder.sink.batch.event_count", sink="memory") == len(first.calls) == 3
    (size,) = [
        value
        for attributes, value in recorded.points("forwarder.sink.batch.event_count")
        if attributes["sink"] == "memory"
    ]
    assert size.sum == 10
    assert recorded.total("forwarder.sink.request.duration", sink="memory", outcome="ok") == 3
    assert recorded.total("forwarder.sink.retries") == 0
    assert recorded.total("forwarder.events.dead_lettered") == 0


async def test_rejections_retries_and_their_reasons_are_counted(tmp_path: Path, recorded: Recorded) -> None:
    sink = memory(
        [
            fail_once(RetryableError("HTTP 503", retry_after=0.0)),
            fail_once(RetryableError("connection refused")),
            lambda batch: SendResult(
                rejected=[Rejection(batch[0], "mapping error")], retry=list(batch[3:]), retry_reason="busy"
            ),
        ],
        batch_max_events=5,
    )
    flow = pipeline(tmp_path, recorded, sink)
    await flow.open()
    await flow.deliver(records(5))
    await flow.close()
    # Attempt 1 throttled, 2 failed, 3 rejects one event, retries two, 4 delivers the two.
    assert recorded.total("forwarder.sink.retries", sink="memory", reason="throttled") == 1
    assert recorded.total("forwarder.sink.retries", sink="memory", reason="error") == 1
    assert recorded.total("forwarder.sink.retries", sink="memory", reason="partial") == 1
    assert recorded.total("forwarder.events.rejected", sink="memory", stream=STREAM) == 1
    assert recorded.total("forwarder.events.dead_lettered", sink="memory", reason="rejected") == 1
    assert recorded.total("forwarder.events.sent", sink="memory") == 4 == flow.status["memory"].delivered
    outcomes = {
        attributes["outcome"]: value.count
        for attributes, value in recorded.points("forwarder.sink.request.duration")
    }
    assert outcomes == {"retry": 2, "partial": 1, "ok": 1}
    sends = recorded.finished("sink send")
    assert [span.attributes["retry_count"] for span in sends if span.attributes] == [0, 1, 2, 3]
    assert [span.attributes["status"] for span in sends if span.attributes] == [
        "retry",
        "retry",
        "partial",
        "ok",
    ]
    (deliver,) = recorded.finished("sink deliver")
    assert all(span.parent is not None and span.parent.span_id == deliver.context.span_id for span in sends)


async def test_expired_events_are_counted_as_dead_letters(tmp_path: Path, recorded: Recorded) -> None:
    sink = memory([fail_once(RetryableError("down"))] * 1000)
    flow = pipeline(tmp_path, recorded, sink, max_age=0.05)
    await flow.open()
    await flow.deliver(records(3))
    await flow.close()
    assert recorded.total("forwarder.events.dead_lettered", sink="memory", reason="expired") == 3
    assert recorded.total("forwarder.events.sent") == 0


async def test_a_failed_mapping_is_counted_for_every_sink_of_that_format(
    tmp_path: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fmt: str) -> Any:
        def encode(record: Any) -> bytes:
            if record.data.get("user_email") == "u1@example.com":
                raise ValueError("unmappable")
            return b'{"ok":true}'

        return encode

    monkeypatch.setattr("forwarder.pipeline.fan_out.encoder_for", broken)
    flow = pipeline(tmp_path, recorded, memory())
    await flow.open()
    await flow.deliver(records(3))
    await flow.close()
    assert recorded.total("forwarder.events.dead_lettered", sink="memory", reason="mapping_failed") == 1
    assert recorded.total("forwarder.events.mapped") == 2
    assert recorded.total("forwarder.events.sent") == 2


async def test_a_configuration_error_shows_in_the_state_gauge_and_the_send_outcome(
    tmp_path: Path, recorded: Recorded
) -> None:
    flow = pipeline(tmp_path, recorded, memory([fail_once(SinkConfigError("FORWARDER_MEMORY__X: wrong"))]))
    await flow.open()
    await flow.submit(records(1))
    await flow.stopped_event.wait()
    await flow.close()
    assert recorded.total("forwarder.sink.request.duration", outcome="config_error") == 1
    (send,) = recorded.finished("sink send")
    assert send.attributes is not None
    assert send.attributes["status"] == "config_error"


def causes() -> Iterator[tuple[BaseException, str]]:
    import httpx

    from forwarder.source.errors import CloudflareError, CloudflareRateLimited, CloudflareRetryableError

    timeout = CloudflareRetryableError("timed out")
    timeout.__cause__ = httpx.ReadTimeout("slow")
    reset = CloudflareRetryableError("reset")
    reset.__cause__ = httpx.ConnectError("refused")
    yield CloudflareRateLimited("429", status=429), "rate_limited"
    yield timeout, "timeout"
    yield reset, "connection"
    yield CloudflareRetryableError("bad gateway", status=502), "server_error"
    yield CloudflareError("odd", status=404), "client_error"
    yield RuntimeError("?"), "other"


@pytest.mark.parametrize(("error", "reason"), list(causes()))
def test_cloudflare_retry_reasons_are_a_small_fixed_set(error: BaseException, reason: str) -> None:
    assert cloudflare_retry_reason(error) == reason


def test_sink_retry_reasons() -> None:
    timed_out = RetryableError("timed out")
    timed_out.__cause__ = TimeoutError()
    refused = RetryableError("refused")
    refused.__cause__ = ConnectionRefusedError()
    assert sink_retry_reason(timed_out, partial=False) == "timeout"
    assert sink_retry_reason(refused, partial=False) == "connection"
    assert sink_retry_reason(RetryableError("busy", retry_after=2), partial=False) == "throttled"
    assert sink_retry_reason(RetryableError("busy", retry_after=2), partial=True) == "partial"
    assert sink_retry_reason(RetryableError("HTTP 500"), partial=False) == "error"


def test_the_default_source_instruments_record_nothing_and_cost_nothing() -> None:
    instruments = SourceInstruments()
    instruments.events_fetched("a/b", "access_requests", 3, 1)
    assert not instruments.tracer.start_span("x").get_span_context().is_valid


def test_the_default_pipeline_instruments_record_nothing_and_cost_nothing() -> None:
    instruments = PipelineInstruments()
    with instruments.sink_send("memory", [], 1) as send:
        send.result = SendResult()
    assert not instruments.tracer.start_span("x").get_span_context().is_valid
