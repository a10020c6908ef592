"""Delivery into the fake HEC over sockets: exactly once when nothing fails, nothing lost under faults."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.splunk_hec import (
    FakeHec,
    Fault,
    HecToken,
    Normal,
    Reset,
    busy,
    internal_error,
    proxy_answer,
    queues_full,
    too_large,
)
from forwarder.records import LogType
from forwarder.sinks.base import Event, RetryableError
from tests.support.splunk_hec_support import TOKEN, deliver, event_id_of, make_events, sink_for, with_body

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake() -> AsyncIterator[FakeHec]:
    hec = FakeHec([HecToken(TOKEN, allowed_indexes=frozenset({"main", "cf_access"}))])
    async with hec.serve():
        yield hec


def ids(events: Sequence[Event]) -> list[str]:
    return [event.event_id for event in events]


@pytest.mark.parametrize("use_gzip", [True, False], ids=["gzip", "plain"])
async def test_each_event_exactly_once_when_nothing_fails(fake: FakeHec, use_gzip: bool) -> None:
    sink = sink_for(fake, gzip=use_gzip)
    batch = make_events(50)
    result = await sink.send(batch)
    await sink.close()

    assert result.rejected == []
    assert result.retry == []
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch), 1)
    request = fake.event_requests[0]
    assert request.headers["Authorization"] == f"Splunk {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert "X-Splunk-Request-Channel" not in request.headers
    if use_gzip:
        assert request.headers["Content-Encoding"] == "gzip"
        assert request.raw_body[:2] == b"\x1f\x8b"
        assert gzip.decompress(request.raw_body) == request.body
    else:
        assert "Content-Encoding" not in request.headers
        assert request.raw_body == request.body
    # Exactly the encoder's bytes on the wire, events in batch order.
    lines = request.body.split(b"\n")
    assert [json.loads(line)["event"]["_forwarder"]["event_id"] for line in lines] == ids(batch)
    assert lines[0].endswith(b',"event":' + batch[0].body + b"}")


async def test_a_batch_larger_than_batch_max_bytes_goes_in_several_requests(fake: FakeHec) -> None:
    sink = sink_for(fake, batch_max_bytes=2048)
    batch = make_events(20)
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert result.rejected == []
    sizes = [len(request.body) for request in fake.event_requests]
    assert len(sizes) > 1
    assert max(sizes) <= 2048
    assert [event_id_of(event) for event in fake.indexed] == ids(batch)


async def test_when_one_request_of_a_batch_is_busy_the_rest_waits_with_it(fake: FakeHec) -> None:
    sink = sink_for(fake, batch_max_bytes=2048)
    batch = make_events(20)
    fake.inject(Normal(), busy())
    result = await sink.send(batch)
    await sink.close()
    delivered = [event_id_of(event) for event in fake.indexed]
    assert delivered == ids(batch[: len(delivered)])
    assert ids(result.retry) == ids(batch[len(delivered) :])
    assert len(fake.event_requests) == 2


async def test_indexes_and_sourcetypes_per_log_type(fake: FakeHec) -> None:
    sink = sink_for(fake, index_access_requests="cf_access")
    await sink.send(make_events(2) + make_events(2, start=2, log_type=LogType.SCIM_UPDATES))
    await sink.close()
    assert [(event.index, event.envelope["sourcetype"]) for event in fake.indexed] == [
        ("cf_access", "cloudflare:access"),
        ("cf_access", "cloudflare:access"),
        ("main", "cloudflare:access:scim"),
        ("main", "cloudflare:access:scim"),
    ]


@pytest.mark.parametrize(
    "fault",
    [busy(), internal_error(), queues_full(), proxy_answer(502), proxy_answer(504), Reset()],
    ids=["busy-9", "error-8", "unhealthy-18", "proxy-502", "proxy-504", "reset"],
)
async def test_a_retryable_answer_raises_for_the_whole_batch_and_nothing_is_indexed(
    fake: FakeHec, fault: Fault
) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(fault)
    with pytest.raises(RetryableError):
        await sink.send(batch)
    assert fake.indexed == []
    # What the pipeline does next: the same batch again.
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert result.rejected == []
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch), 1)


async def test_retry_after_of_a_proxy_reaches_the_pipeline(fake: FakeHec) -> None:
    sink = sink_for(fake)
    fake.inject(proxy_answer(429, retry_after="30"))
    with pytest.raises(RetryableError) as raised:
        await sink.send(make_events(3))
    await sink.close()
    assert raised.value.retry_after == 30.0
    assert "HTTP 429" in raised.value.reason


async def test_a_reset_after_indexing_repeats_but_loses_nothing(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    fake.inject(Reset(after_indexing=True))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.rejected == []
    # At least once: the answer was lost, so the batch went twice.
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch), 2)


async def test_413_splits_the_batch_until_it_fits_and_drops_nothing(fake: FakeHec) -> None:
    sink = sink_for(fake, gzip=False)
    batch = make_events(40)
    # Room for about 10 encoded events per request.
    fake.max_content_length = 10 * 330
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert result.rejected == []
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch), 1)
    fits = [len(request.raw_body) <= fake.max_content_length for request in fake.event_requests]
    assert fits[0] is False
    assert fits.count(True) >= 4
    # Order within the stream is kept.
    assert [event_id_of(event) for event in fake.indexed] == ids(batch)


async def test_an_injected_413_splits_once(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    fake.inject(too_large())
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert result.rejected == []
    assert [len(request.body.split(b"\n")) for request in fake.event_requests] == [8, 4, 4]
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch), 1)


async def test_a_single_event_too_large_for_hec_is_dead_lettered_not_dropped(fake: FakeHec) -> None:
    sink = sink_for(fake, gzip=False)
    batch = make_events(3)
    huge = with_body(batch[1], b'{"blob":"' + b"x" * 5000 + b'"}')
    fake.max_content_length = 2000
    outcome = await deliver(sink, [batch[0], huge, batch[2]])
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [huge.event_id]
    assert "HTTP 413" in outcome.rejected[0].reason
    assert sorted(fake.counts(event_id_of)) == sorted([batch[0].event_id, batch[2].event_id])


async def test_after_a_split_a_busy_first_half_sends_the_second_half_back_too(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    fake.inject(too_large(), busy())
    # HEC asked us to back off: the second half is not sent, it waits with the first.
    with pytest.raises(RetryableError, match="code 9"):
        await sink.send(batch)
    await sink.close()
    assert len(fake.event_requests) == 2
    assert fake.indexed == []


async def test_after_a_split_a_busy_second_half_keeps_the_first_half_delivered(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(8)
    fake.inject(too_large(), Normal(), busy())
    result = await sink.send(batch)
    await sink.close()
    assert ids(result.retry) == ids(batch[4:])
    assert "code 9" in result.retry_reason
    assert result.rejected == []
    assert fake.counts(event_id_of) == dict.fromkeys(ids(batch[:4]), 1)


# --- poison events --------------------------------------------------------------------------


async def test_a_malformed_event_is_dead_lettered_and_the_rest_of_its_batch_delivered(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(10)
    poison = with_body(batch[4], b'{"truncated": ')
    batch[4] = poison
    result = await sink.send(batch)
    await sink.close()

    assert result.retry == []
    assert [rejection.event.event_id for rejection in result.rejected] == [poison.event_id]
    assert result.rejected[0].reason == "HEC code 6 (Invalid data format, HTTP 400) at event 4 of the request"
    others = [event for event in batch if event is not poison]
    assert fake.counts(event_id_of) == dict.fromkeys(ids(others), 1)
    # Events 0-3 were indexed by the first request; 5-9 went in the same send, in a second one.
    assert [len(request.body.split(b"\n")) for request in fake.event_requests] == [10, 5]


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [(b'""', 13, "Event field cannot be blank"), (b"null", 13, "Event field cannot be blank")],
)
async def test_a_blank_event_is_dead_lettered(fake: FakeHec, body: bytes, code: int, text: str) -> None:
    sink = sink_for(fake)
    batch = make_events(5)
    batch[2] = with_body(batch[2], body)
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [batch[2].event_id]
    assert f"HEC code {code} ({text}" in outcome.rejected[0].reason
    assert len(fake.indexed) == 4


async def test_an_index_outside_the_token_allow_list_dead_letters_those_events(fake: FakeHec) -> None:
    sink = sink_for(fake, index_scim_updates="not_allowed")
    access = make_events(3)
    scim = make_events(2, start=3, log_type=LogType.SCIM_UPDATES)
    batch = [access[0], scim[0], access[1], scim[1], access[2]]
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == ids(scim)
    assert all("HEC code 7 (Incorrect index" in rejection.reason for rejection in outcome.rejected)
    assert fake.counts(event_id_of) == dict.fromkeys(ids(access), 1)


async def test_poison_events_chosen_by_the_fake(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(20)
    poisoned = {batch[0].event_id, batch[7].event_id, batch[8].event_id, batch[19].event_id}
    fake.refuse = lambda envelope: envelope["event"]["_forwarder"]["event_id"] in poisoned
    outcome = await deliver(sink, batch)
    await sink.close()
    assert {rejection.event.event_id for rejection in outcome.rejected} == poisoned
    assert fake.counts(event_id_of) == {e: 1 for e in ids(batch) if e not in poisoned}
    assert outcome.sends == 1


async def test_without_an_event_number_the_poison_is_found_by_halving(fake: FakeHec) -> None:
    sink = sink_for(fake)
    batch = make_events(16)
    poison = batch[11]
    fake.refuse = lambda envelope: envelope["event"]["_forwarder"]["event_id"] == poison.event_id
    fake.omit_invalid_event_number = True
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [poison.event_id]
    counts = fake.counts(event_id_of)
    # Nothing lost; events HEC indexed before the poison in a refused request come again.
    assert set(counts) == set(ids(batch)) - {poison.event_id}
    assert all(count >= 1 for count in counts.values())


async def test_concurrent_sends_stay_within_the_concurrency_setting(fake: FakeHec) -> None:
    sink = sink_for(fake, concurrency=2)
    batches = [make_events(20, start=20 * number) for number in range(8)]
    results = await asyncio.gather(*(sink.send(batch) for batch in batches))
    await sink.close()
    assert all(result.retry == [] and result.rejected == [] for result in results)
    assert fake.counts(event_id_of) == {e: 1 for batch in batches for e in ids(batch)}
    assert fake.max_in_flight <= 2


# --- every fault, in any order --------------------------------------------------------------

FAULTS: dict[str, Fault] = {
    "busy": busy(),
    "error": internal_error(),
    "unhealthy": queues_full(),
    "proxy-429": proxy_answer(429, retry_after="1"),
    "proxy-502": proxy_answer(502),
    "413": too_large(),
    "reset": Reset(),
    "reset-after-indexing": Reset(after_indexing=True),
    "none": Normal(),
}


@settings(max_examples=40, deadline=None)
@given(
    faults=st.lists(st.sampled_from(sorted(FAULTS)), max_size=8),
    poison_positions=st.sets(st.integers(min_value=0, max_value=11), max_size=3),
    use_gzip=st.booleans(),
)
def test_nothing_is_lost_under_any_sequence_of_faults(
    faults: list[str], poison_positions: set[int], use_gzip: bool
) -> None:
    async def scenario() -> None:
        hec = FakeHec([HecToken(TOKEN)])
        async with hec.serve():
            sink = sink_for(hec, gzip=use_gzip)
            batch = make_events(12)
            for position in poison_positions:
                batch[position] = with_body(batch[position], b"[1, 2")
            hec.inject(*(FAULTS[name] for name in faults))
            outcome = await deliver(sink, batch)
            await sink.close()
            poison = {batch[position].event_id for position in poison_positions}
            assert {rejection.event.event_id for rejection in outcome.rejected} == poison
            assert len(outcome.rejected) == len(poison)
            counts = hec.counts(event_id_of)
            assert set(counts) == set(ids(batch)) - poison
            if "reset-after-indexing" not in faults:
                # Only a lost answer can make a duplicate.
                assert set(counts.values()) == {1}

    asyncio.run(scenario())
