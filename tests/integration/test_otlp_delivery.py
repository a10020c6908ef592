"""Delivery into the fake Collector over sockets: exactly once when nothing fails, nothing lost under
faults, partial successes dead-lettered, and the configuration errors a person reads."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Sequence

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from fakes.otlp_collector import (
    FakeCollector,
    Fault,
    Normal,
    Reset,
    Slow,
    proxy_answer,
    status_answer,
    throttled,
    too_large,
    unavailable,
)
from forwarder.sinks.base import Event, RetryableError, SinkConfigError
from tests.support.otlp_support import API_KEY, sink_for
from tests.support.splunk_hec_support import deliver, make_events, with_body

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake() -> AsyncIterator[FakeCollector]:
    collector = FakeCollector(required_headers={"api-key": API_KEY})
    async with collector.serve():
        yield collector


def ids(events: Sequence[Event]) -> list[str]:
    return [event.event_id for event in events]


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
@pytest.mark.parametrize("compression", ["gzip", "none"])
async def test_each_event_exactly_once_when_nothing_fails(
    fake: FakeCollector, protocol: str, compression: str
) -> None:
    sink = sink_for(fake, protocol=protocol, compression=compression)
    batch = make_events(30)
    result = await sink.send(batch)
    await sink.close()

    assert (result.rejected, result.retry) == ([], [])
    assert fake.uids() == dict.fromkeys(ids(batch), 1)
    # In batch order, each body the document the pipeline encoded.
    assert [log.uid for log in fake.received] == ids(batch)
    assert [log.body for log in fake.received] == [orjson.loads(event.body) for event in batch]
    request = fake.requests[0]
    assert request.headers["api-key"] == API_KEY
    expected_type = "application/x-protobuf" if protocol == "http/protobuf" else "application/json"
    assert request.headers["Content-Type"] == expected_type
    if compression == "gzip":
        assert request.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(request.raw_body) == request.body
    else:
        assert "Content-Encoding" not in request.headers
        assert request.raw_body == request.body
    # The bytes on the wire are the official encoding of the request the fake decoded.
    if protocol == "http/protobuf":
        decoded = ExportLogsServiceRequest.FromString(request.body)
    else:
        decoded = json_format.Parse(request.body, ExportLogsServiceRequest())
    assert sum(len(logs.scope_logs[0].log_records) for logs in decoded.resource_logs) == 30


async def test_a_batch_larger_than_batch_max_bytes_goes_in_several_requests(fake: FakeCollector) -> None:
    sink = sink_for(fake, batch_max_bytes=4096, compression="none")
    batch = make_events(40)
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    sizes = [len(request.body) for request in fake.requests]
    assert len(sizes) > 1
    assert max(sizes) <= 4096
    assert [log.uid for log in fake.received] == ids(batch)


RETRYABLE: list[Fault] = [
    unavailable(),
    throttled(),
    proxy_answer(502),
    proxy_answer(504),
    status_answer(503, "queue is full"),
    Reset(),
]


@pytest.mark.parametrize("fault", RETRYABLE, ids=["503", "429", "proxy-502", "proxy-504", "queue", "reset"])
async def test_a_retryable_answer_raises_for_the_whole_batch_and_nothing_is_lost(
    fake: FakeCollector, fault: Fault
) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(fault)
    with pytest.raises(RetryableError):
        await sink.send(batch)
    assert fake.received == []
    # What the pipeline does next: the same batch again.
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fake.uids() == dict.fromkeys(ids(batch), 1)


async def test_retry_after_reaches_the_pipeline(fake: FakeCollector) -> None:
    sink = sink_for(fake)
    fake.inject(throttled("30"))
    with pytest.raises(RetryableError) as raised:
        await sink.send(make_events(3))
    await sink.close()
    assert raised.value.retry_after == 30.0
    assert "HTTP 429: too many requests" in raised.value.reason


async def test_when_one_request_of_a_batch_is_refused_for_now_the_rest_waits_with_it(
    fake: FakeCollector,
) -> None:
    sink = sink_for(fake, batch_max_bytes=4096, compression="none")
    batch = make_events(40)
    fake.inject(Normal(), unavailable("4"))
    result = await sink.send(batch)
    await sink.close()
    delivered = [log.uid for log in fake.received]
    assert delivered == ids(batch[: len(delivered)])
    assert ids(result.retry) == ids(batch[len(delivered) :])
    assert result.retry_after == 4.0
    assert len(fake.requests) == 2


async def test_a_reset_after_taking_repeats_but_loses_nothing(fake: FakeCollector) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(Reset(after_taking=True))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.rejected == []
    assert fake.uids() == dict.fromkeys(ids(batch), 2)


async def test_a_slow_answer_past_the_timeout_is_retried(fake: FakeCollector) -> None:
    sink = sink_for(fake, request_timeout=0.2)
    batch = make_events(5)
    fake.inject(Slow(1.0))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert "timed out" in outcome.retryable_errors[0].reason
    assert set(fake.uids()) == set(ids(batch))


async def test_a_partial_success_dead_letters_the_refused_record_with_its_message(
    fake: FakeCollector,
) -> None:
    # One record per request: the count names exactly one record.
    sink = sink_for(fake, batch_max_bytes=1024, compression="none")
    batch = make_events(4)
    poison = with_body(batch[2], b'{"poison":true}')
    fake.refuse = lambda record: any(pair.key == "poison" for pair in record.body.kvlist_value.values)
    fake.refusal_message = "body.poison is not allowed"
    result = await sink.send([batch[0], batch[1], poison, batch[3]])
    await sink.close()
    assert result.retry == []
    assert [rejection.event.event_id for rejection in result.rejected] == [poison.event_id]
    assert "body.poison is not allowed" in result.rejected[0].reason
    assert sorted(fake.uids()) == sorted(ids([batch[0], batch[1], batch[3]]))


async def test_a_partial_success_without_names_dead_letters_the_whole_request(fake: FakeCollector) -> None:
    sink = sink_for(fake)
    batch = make_events(6)
    fake.refuse = lambda record: record.severity_text == "WARN"
    result = await sink.send(batch)
    await sink.close()
    refused = [event for event in batch if event.record.data["allowed"] is False]
    assert refused
    # Nothing lost: every refused record is in the dead letters, along with the ones it could be.
    assert ids([rejection.event for rejection in result.rejected]) == ids(batch)
    assert f"rejected {len(refused)} of the 6 records" in result.rejected[0].reason
    assert result.retry == []
    # Not sent again: the specification forbids retrying a partial success.
    assert len(fake.requests) == 1


async def test_413_splits_the_request_until_it_fits_and_drops_nothing(fake: FakeCollector) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    fake.inject(too_large())
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert [request.records for request in fake.requests] == [8, 4, 4]
    assert [log.uid for log in fake.received] == ids(batch)


async def test_a_single_record_too_large_is_dead_lettered_not_dropped() -> None:
    collector = FakeCollector(max_request_body_size=2000)
    async with collector.serve():
        sink = sink_for(collector, compression="none")
        batch = make_events(3)
        huge = with_body(batch[1], b'{"blob":"' + b"x" * 5000 + b'"}')
        outcome = await deliver(sink, [batch[0], huge, batch[2]])
        await sink.close()
    assert ids([rejection.event for rejection in outcome.rejected]) == [huge.event_id]
    assert "HTTP 413" in outcome.rejected[0].reason
    assert sorted(collector.uids()) == sorted(ids([batch[0], batch[2]]))


async def test_a_permanent_answer_dead_letters_the_request_and_is_not_retried(fake: FakeCollector) -> None:
    sink = sink_for(fake)
    batch = make_events(4)
    fake.inject(status_answer(400, "proto: cannot parse invalid wire-format data"))
    result = await sink.send(batch)
    await sink.close()
    assert ids([rejection.event for rejection in result.rejected]) == ids(batch)
    assert "wire-format" in result.rejected[0].reason
    assert len(fake.requests) == 1


async def test_wrong_credentials_stop_the_sink_naming_the_variable(fake: FakeCollector) -> None:
    sink = sink_for(fake, headers={"api-key": "wrong"})
    with pytest.raises(SinkConfigError, match="FORWARDER_OTLP__HEADERS") as raised:
        await sink.send(make_events(2))
    await sink.close()
    assert "wrong" not in str(raised.value)


async def test_a_wrong_path_stops_the_sink_naming_the_endpoint(fake: FakeCollector) -> None:
    sink = sink_for(fake, endpoint=f"{fake.url}/v1/traces")
    with pytest.raises(SinkConfigError, match="FORWARDER_OTLP__ENDPOINT is not an OTLP/HTTP logs endpoint"):
        await sink.send(make_events(2))
    await sink.close()


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://127.0.0.1:4318/v1/logs/" + "a" * 70_000, "URL too long"),
        ("http://xn--ls8h.la:4318", "not allowed"),
    ],
    ids=["url too long", "host not valid idna"],
)
async def test_an_address_httpx_refuses_is_a_configuration_error(endpoint: str, reason: str) -> None:
    # Valid to pydantic, refused by httpx when the request is made (not as a transport error).
    sink = sink_for(FakeCollector(), endpoint=endpoint)
    with pytest.raises(SinkConfigError, match="FORWARDER_OTLP__ENDPOINT") as raised:
        await sink.send(make_events(1))
    await sink.close()
    assert reason in str(raised.value)


async def test_check_sends_an_empty_request_and_writes_nothing(fake: FakeCollector) -> None:
    await sink_for(fake).check()
    with pytest.raises(SinkConfigError, match="FORWARDER_OTLP__HEADERS"):
        await sink_for(fake, headers={}).check()
    assert fake.received == []
    assert [request.records for request in fake.requests] == [0, 0]


def test_describe_names_the_endpoint_and_no_secret() -> None:
    sink = sink_for(FakeCollector(), endpoint="https://collector.example.com:4318")
    described = sink.describe()
    assert described == (
        "otlp (raw) to https://collector.example.com:4318/v1/logs, http/protobuf, gzip, system CAs"
    )
    assert API_KEY not in described
    plain_http = sink_for(FakeCollector(), endpoint="http://collector.example.com:4318").warnings()
    assert any("FORWARDER_OTLP__HEADERS" in warning for warning in plain_http)


FAULTS = st.sampled_from(
    [
        Normal(),
        unavailable("0"),
        throttled("0"),
        proxy_answer(502),
        Reset(),
        Reset(after_taking=True),
        too_large(),
    ]
)


@settings(max_examples=25, deadline=None)
@given(faults=st.lists(FAULTS, max_size=8))
async def test_nothing_is_lost_under_any_sequence_of_faults(faults: list[Fault]) -> None:
    collector = FakeCollector(required_headers={"api-key": API_KEY})
    async with collector.serve():
        sink = sink_for(collector, batch_max_bytes=4096)
        batch = make_events(30)
        collector.inject(*faults)
        outcome = await deliver(sink, batch)
        await sink.close()
    assert outcome.rejected == []
    # At least once: every event arrived, none more than once per reset after taking.
    counts = collector.uids()
    assert set(counts) == set(ids(batch))
    repeats = sum(1 for fault in faults if isinstance(fault, Reset) and fault.after_taking)
    assert max(counts.values()) <= 1 + repeats
