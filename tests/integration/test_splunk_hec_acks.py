"""Indexer acknowledgement against the fake HEC: delayed acks, lost acks, and what counts as delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.splunk_hec import FakeHec, HecToken, Normal, Reset, busy, too_large
from forwarder.sinks.base import RetryableError, SinkConfigError
from tests.support.splunk_hec_support import TOKEN, deliver, event_id_of, make_events, sink_for, with_body

pytestmark = pytest.mark.integration


# Lost acks are found by a deadline. It is generous (a present ack arrives within milliseconds) so
# that a loaded machine cannot turn a timely ack into a lost one.


@pytest.fixture
async def fake() -> AsyncIterator[FakeHec]:
    hec = FakeHec([HecToken(TOKEN, use_ack=True)])
    async with hec.serve():
        yield hec


async def test_delivered_once_acknowledged(fake: FakeHec) -> None:
    sink = sink_for(fake, acknowledgements=True)
    batch = make_events(30)
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert result.rejected == []
    assert fake.counts(event_id_of) == {event.event_id: 1 for event in batch}
    request = fake.event_requests[0]
    channel = request.headers["X-Splunk-Request-Channel"]
    ack_queries = [r for r in fake.requests if r.path == "/services/collector/ack"]
    assert ack_queries
    assert all(r.headers["X-Splunk-Request-Channel"] == channel for r in ack_queries)
    assert fake.channels[channel].pending == {}


async def test_a_delayed_ack_is_waited_for_not_resent(fake: FakeHec) -> None:
    fake.ack_delay_queries = 25
    sink = sink_for(fake, acknowledgements=True)
    batch = make_events(10)
    result = await sink.send(batch)
    await sink.close()
    assert result.retry == []
    assert len(fake.event_requests) == 1
    assert fake.ack_queries == 26
    assert fake.counts(event_id_of) == {event.event_id: 1 for event in batch}


async def test_a_lost_ack_of_events_never_indexed_is_sent_again(fake: FakeHec) -> None:
    # The failure acknowledgement exists for: HEC said 200, then lost the events.
    fake.lose_next_acks(1, drop_events=True)
    sink = sink_for(fake, acknowledgements=True, ack_timeout=1.0)
    batch = make_events(10)
    with pytest.raises(RetryableError, match=r"no indexer acknowledgement of ack id 0 within 1 s"):
        await sink.send(batch)
    assert fake.indexed == []
    outcome = await deliver(sink, batch)
    await sink.close()
    assert fake.counts(event_id_of) == {event.event_id: 1 for event in batch}
    assert outcome.rejected == []


async def test_a_lost_ack_of_indexed_events_repeats_them_and_loses_nothing(fake: FakeHec) -> None:
    fake.lose_next_acks(1)
    sink = sink_for(fake, acknowledgements=True, ack_timeout=1.0)
    batch = make_events(10)
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.rejected == []
    assert len(outcome.retryable_errors) == 1
    assert fake.counts(event_id_of) == {event.event_id: 2 for event in batch}


async def test_only_the_unacknowledged_part_of_a_split_batch_is_resent(fake: FakeHec) -> None:
    sink = sink_for(fake, acknowledgements=True, ack_timeout=1.0)
    batch = make_events(8)
    # The 413 gets no ack id; the halves get 0 and 1, and 1 is lost with its events.
    fake.inject(too_large())
    fake.lose_acks(1, drop_events=True)
    result = await sink.send(batch)
    await sink.close()
    assert [event.event_id for event in result.retry] == [event.event_id for event in batch[4:]]
    assert "no indexer acknowledgement of ack id 1" in result.retry_reason
    assert fake.counts(event_id_of) == {event.event_id: 1 for event in batch[:4]}


async def test_events_before_a_poison_are_sent_again_without_an_ack(fake: FakeHec) -> None:
    sink = sink_for(fake, acknowledgements=True)
    batch = make_events(6)
    batch[3] = with_body(batch[3], b"{")
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [batch[3].event_id]
    counts = fake.counts(event_id_of)
    # HEC indexed 0-2 with the refused request but gave no ackId: they go again (at least once).
    assert counts == {
        **{event.event_id: 2 for event in batch[:3]},
        **{event.event_id: 1 for event in batch[4:]},
    }


async def test_faults_with_acknowledgement_lose_nothing(fake: FakeHec) -> None:
    fake.inject(busy(), Reset(), Normal(), Reset(after_indexing=True))
    fake.ack_delay_queries = 2
    sink = sink_for(fake, acknowledgements=True, ack_timeout=1.0)
    batches = [make_events(5, start=5 * number) for number in range(4)]
    for batch in batches:
        outcome = await deliver(sink, batch)
        assert outcome.rejected == []
    await sink.close()
    counts = fake.counts(event_id_of)
    assert set(counts) == {event.event_id for batch in batches for event in batch}


async def test_acknowledgement_on_but_not_on_the_token_is_a_configuration_error() -> None:
    hec = FakeHec([HecToken(TOKEN, use_ack=False)])
    async with hec.serve():
        sink = sink_for(hec, acknowledgements=True)
        with pytest.raises(SinkConfigError, match="FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS is true"):
            await sink.send(make_events(2))
        with pytest.raises(SinkConfigError, match=r"code 14 \(ACK is disabled"):
            await sink.check()
        await sink.close()


async def test_a_token_with_acknowledgement_needs_the_setting_on(fake: FakeHec) -> None:
    sink = sink_for(fake, acknowledgements=False)
    with pytest.raises(SinkConfigError) as raised:
        await sink.send(make_events(2))
    await sink.close()
    assert "code 10 (Data channel is missing" in str(raised.value)
    assert "FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS=true" in str(raised.value)
    assert fake.indexed == []


async def test_check_with_acknowledgement(fake: FakeHec) -> None:
    sink = sink_for(fake, acknowledgements=True)
    await sink.check()
    await sink.close()
    assert [r.path for r in fake.requests] == [
        "/services/collector/health",
        "/services/collector/event",
        "/services/collector/ack",
    ]
    assert fake.indexed == []
