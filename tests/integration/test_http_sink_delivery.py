"""Delivery into the fake intake, in each flavour, over sockets: exactly once when nothing fails,
nothing lost under faults, poison events dead-lettered alone, the configuration errors a person reads."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.http_faults import CannedAnswer
from fakes.http_intake import FakeIntake, Fault, Normal, Reset, Slow, busy, proxy_answer, too_large
from forwarder.sinks.base import Event, RetryableError, SinkConfigError
from tests.support.http_sink_support import FLAVORS, intake, sink_for
from tests.support.splunk_hec_support import deliver, make_events, with_body

pytestmark = pytest.mark.integration


@pytest.fixture(params=FLAVORS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeIntake]:
    served = intake(request.param)
    async with served.serve():
        yield served


def ids(events: Sequence[Event]) -> list[str]:
    return [event.event_id for event in events]


@pytest.mark.parametrize("use_gzip", [True, False], ids=["gzip", "plain"])
async def test_each_event_exactly_once_when_nothing_fails(fake: FakeIntake, use_gzip: bool) -> None:
    sink = sink_for(fake, gzip=use_gzip)
    batch = make_events(30)
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fake.ids() == dict.fromkeys(ids(batch), 1)
    request = fake.requests[0]
    # Exactly the pipeline's bytes on the wire, in batch order.
    if fake.flavor in ("datadog", "logstash"):
        assert request.headers["Content-Type"] == "application/json"
        assert request.body == b"[" + b",".join(event.body for event in batch) + b"]"
    else:
        assert request.headers["Content-Type"] == "application/x-ndjson"
        assert request.body == b"".join(event.body + b"\n" for event in batch)
    if use_gzip:
        assert request.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(request.raw_body) == request.body
    else:
        assert "Content-Encoding" not in request.headers


async def test_a_batch_larger_than_batch_max_bytes_goes_in_several_requests(fake: FakeIntake) -> None:
    sink = sink_for(fake, batch_max_bytes=2048)
    batch = make_events(20)
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    sizes = [len(request.body) for request in fake.requests]
    assert len(sizes) > 1
    assert max(sizes) <= 2048
    assert [event["_forwarder"]["event_id"] for event in fake.received] == ids(batch)


@pytest.mark.parametrize(
    "fault",
    [busy("1"), proxy_answer(502), proxy_answer(503), proxy_answer(504), CannedAnswer(408, b""), Reset()],
    ids=["429", "502", "503", "504", "408", "reset"],
)
async def test_a_retryable_answer_raises_for_the_whole_batch_and_nothing_is_lost(
    fake: FakeIntake, fault: Fault
) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(fault)
    with pytest.raises(RetryableError):
        await sink.send(batch)
    assert fake.received == []
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fake.ids() == dict.fromkeys(ids(batch), 1)


async def test_retry_after_reaches_the_pipeline(fake: FakeIntake) -> None:
    sink = sink_for(fake)
    fake.inject(busy("30"))
    with pytest.raises(RetryableError) as raised:
        await sink.send(make_events(3))
    await sink.close()
    assert raised.value.retry_after == 30.0


async def test_a_reset_after_taking_repeats_but_loses_nothing(fake: FakeIntake) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(Reset(after_taking=True))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.rejected == []
    assert fake.ids() == dict.fromkeys(ids(batch), 2)


async def test_a_slow_answer_past_the_timeout_is_retried(fake: FakeIntake) -> None:
    sink = sink_for(fake, request_timeout=0.2)
    batch = make_events(5)
    fake.inject(Slow(1.0))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert "timed out" in outcome.retryable_errors[0].reason
    assert set(fake.ids()) == set(ids(batch))


async def test_a_poison_event_is_dead_lettered_alone_and_the_rest_delivered(fake: FakeIntake) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    poison = with_body(batch[5], b'{"poison":true}')
    fake.refuse = lambda event: isinstance(event, dict) and event.get("poison") is True
    result = await sink.send([*batch[:5], poison, *batch[6:]])
    await sink.close()
    assert ids([rejection.event for rejection in result.rejected]) == [poison.event_id]
    assert "HTTP 400" in result.rejected[0].reason
    assert result.retry == []
    assert sorted(fake.ids()) == sorted(ids([*batch[:5], *batch[6:]]))


async def test_413_splits_the_request_and_drops_nothing(fake: FakeIntake) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    fake.inject(too_large())
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert [request.events for request in fake.requests] == [8, 4, 4]
    assert fake.ids() == dict.fromkeys(ids(batch), 1)


async def test_a_log_datadog_would_truncate_is_dead_lettered_whole() -> None:
    fake = intake("datadog")
    async with fake.serve():
        sink = sink_for(fake)
        batch = make_events(3)
        huge = with_body(batch[1], json.dumps({"blob": "x" * 1_000_001}).encode())
        result = await sink.send([batch[0], huge, batch[2]])
        await sink.close()
    assert ids([rejection.event for rejection in result.rejected]) == [huge.event_id]
    assert "which it would truncate" in result.rejected[0].reason
    assert fake.truncated == 0
    assert sorted(fake.ids()) == sorted(ids([batch[0], batch[2]]))


@pytest.mark.parametrize(
    ("flavor", "change", "variable"),
    [
        ("datadog", {"api_key": "wrong"}, "FORWARDER_HTTP__API_KEY"),
        ("logstash", {"basic_password": "wrong"}, "FORWARDER_HTTP__BASIC_PASSWORD"),
        ("vector", {"basic_password": None, "basic_user": ""}, "FORWARDER_HTTP__BEARER_TOKEN"),
    ],
)
async def test_refused_credentials_stop_the_sink_naming_the_variables(
    flavor: str, change: dict[str, object], variable: str
) -> None:
    fake = intake(flavor)  # type: ignore[arg-type]
    async with fake.serve():
        sink = sink_for(fake, **change)
        with pytest.raises(SinkConfigError, match=variable) as raised:
            await sink.send(make_events(2))
        await sink.close()
    assert "wrong" not in str(raised.value)
    assert fake.received == []


async def test_a_sumo_logic_url_with_another_token_is_a_configuration_error_that_hides_the_token() -> None:
    fake = intake("sumo_logic")
    async with fake.serve():
        sink = sink_for(fake, url=f"{fake.url}/receiver/v1/http/OtherSecretToken")
        with pytest.raises(SinkConfigError) as raised:
            await sink.send(make_events(1))
        await sink.close()
    assert "OtherSecretToken" not in str(raised.value)


async def test_a_wrong_path_is_a_configuration_error() -> None:
    fake = intake("datadog")
    async with fake.serve():
        sink = sink_for(fake, url=f"{fake.url}/v1/input")
        with pytest.raises(SinkConfigError, match="FORWARDER_HTTP__URL does not take events here"):
            await sink.send(make_events(1))
        await sink.close()


FAULTS = st.sampled_from(
    [Normal(), busy("0"), proxy_answer(502), Reset(), Reset(after_taking=True), too_large()]
)


@settings(max_examples=20, deadline=None)
@given(flavor=st.sampled_from(FLAVORS), faults=st.lists(FAULTS, max_size=8))
async def test_nothing_is_lost_under_any_sequence_of_faults(flavor: str, faults: list[Fault]) -> None:
    fake = intake(flavor)  # type: ignore[arg-type]
    async with fake.serve():
        sink = sink_for(fake, batch_max_bytes=2048)
        batch = make_events(20)
        fake.inject(*faults)
        outcome = await deliver(sink, batch)
        await sink.close()
    assert outcome.rejected == []
    counts = fake.ids()
    assert set(counts) == set(ids(batch))
    repeats = sum(1 for fault in faults if isinstance(fault, Reset) and fault.after_taking)
    assert max(counts.values()) <= 1 + repeats
