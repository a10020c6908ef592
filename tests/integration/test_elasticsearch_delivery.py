"""Delivery into the fake cluster: exactly once without faults, at least once and nothing lost
under every fault, poison events rejected alone, replays harmless, config errors loud."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import AsyncIterator

import orjson
import pytest

from fakes.elasticsearch import DelayFault, FakeElasticsearch, Fault, ItemFault, ResetFault, WholeFault
from forwarder.records import LogType
from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.elasticsearch import ElasticsearchSink
from tests.support.elasticsearch_helpers import deliver, make_event, make_events, make_sink

pytestmark = pytest.mark.integration

ACCESS = "logs-cloudflare.access_requests-default"
SCIM = "logs-cloudflare.scim_updates-default"


@pytest.fixture
async def fake() -> AsyncIterator[FakeElasticsearch]:
    async with FakeElasticsearch(field_types={"source.ip": "ip"}) as server:
        yield server


@pytest.fixture
async def sink(fake: FakeElasticsearch) -> AsyncIterator[ElasticsearchSink]:
    opened = make_sink(fake.url)
    yield opened
    await opened.close()


def assert_exactly_once(fake: FakeElasticsearch, events: list) -> None:  # type: ignore[type-arg]
    stored = Counter(fake.document_ids())
    assert set(stored) == {event.event_id for event in events}, "lost or foreign events"
    assert max(stored.values()) == 1, "an event is stored twice"
    for event in events:
        target = ACCESS if event.log_type is LogType.ACCESS_REQUESTS else SCIM
        assert fake.documents(target)[event.event_id] == event.document


async def test_each_event_delivered_exactly_once(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
    events = make_events(101)
    rejected, attempts = await deliver(sink, events, batch_size=25)
    assert rejected == []
    assert attempts == 5  # one request per batch: nothing was sent twice
    assert_exactly_once(fake, events)
    assert fake.targets[ACCESS].kind == "data_stream"
    assert fake.targets[SCIM].kind == "data_stream"


async def test_exact_bytes_on_the_wire_with_gzip(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
    events = make_events(2)
    await sink.send(events)
    [sent] = fake.requests
    assert sent.headers["Content-Encoding"] == "gzip"
    assert sent.headers["Content-Type"] == "application/x-ndjson"
    assert gzip.decompress(sent.wire) == sent.body
    assert len(sent.wire) < len(sent.body) or len(sent.body) < 200
    assert sent.body == b"".join(
        b'{"create":{"_index":"%s","_id":"%s"}}\n%s\n'
        % ((ACCESS if e.log_type is LogType.ACCESS_REQUESTS else SCIM).encode(), e.event_id.encode(), e.body)
        for e in events
    )
    assert sent.query["filter_path"] == "errors,items.*.status,items.*.error"


async def test_gzip_off_sends_plain_ndjson(fake: FakeElasticsearch) -> None:
    sink = make_sink(fake.url, gzip=False, pipeline="cloudflare-enrich")
    try:
        await sink.send(make_events(3))
    finally:
        await sink.close()
    [sent] = fake.requests
    assert "Content-Encoding" not in sent.headers
    assert sent.wire == sent.body
    assert sent.query["pipeline"] == "cloudflare-enrich"


FAULTS: dict[str, list[Fault]] = {
    "whole 429 with Retry-After": [WholeFault(429, retry_after="1")],
    "whole 503": [WholeFault(503), WholeFault(503)],
    "whole 500 then 502 then 504": [WholeFault(500), WholeFault(502), WholeFault(504)],
    "reset before the writes": [ResetFault()],
    "reset after the writes (answer lost)": [ResetFault(after_write=True), ResetFault(after_write=True)],
    "429 items inside a 200": [ItemFault(429, every=2)],
    "503 items then 500 items": [ItemFault(503, every=3), ItemFault(500, every=2, offset=1)],
    "everything, in turn": [
        ItemFault(429, every=2),
        ResetFault(after_write=True),
        WholeFault(503),
        ItemFault(500, every=4),
        ResetFault(),
        WholeFault(429, retry_after="Sat, 01 Mar 2025 12:00:30 GMT"),
    ],
}


@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
async def test_nothing_lost_under_faults(
    fake: FakeElasticsearch, sink: ElasticsearchSink, faults: list[Fault]
) -> None:
    events = make_events(60)
    fake.inject(*faults)
    rejected, attempts = await deliver(sink, events, batch_size=20)
    assert rejected == []
    assert not fake.faults, "every fault was exercised"
    assert attempts > 3
    assert_exactly_once(fake, events)


async def test_only_failed_items_are_sent_again(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
    events = make_events(10)
    fake.inject(ItemFault(429, every=3))
    result = await sink.send(events)
    assert result.retry == [events[0], events[3], events[6], events[9]]
    assert "4 of 10 events: 429 es_rejected_execution_exception" in result.retry_reason
    assert result.rejected == []
    await sink.send(result.retry)
    assert fake.requests[1].body.count(b'{"create"') == 4
    assert_exactly_once(fake, events)


async def test_whole_request_failures_raise_retryable(
    fake: FakeElasticsearch, sink: ElasticsearchSink
) -> None:
    fake.inject(WholeFault(429, retry_after="7"), ResetFault())
    with pytest.raises(RetryableError) as busy:
        await sink.send(make_events(2))
    assert busy.value.retry_after == 7.0
    assert "429" in busy.value.reason
    with pytest.raises(RetryableError, match="without sending a response"):
        await sink.send(make_events(2))


async def test_unreachable_cluster_is_retryable() -> None:
    async with FakeElasticsearch() as gone:
        url = gone.url
    sink = make_sink(url)
    try:
        with pytest.raises(RetryableError, match=r"connection to http://127\.0\.0\.1"):
            await sink.send(make_events(1))
    finally:
        await sink.close()


async def test_poison_event_is_rejected_with_its_reason(
    fake: FakeElasticsearch, sink: ElasticsearchSink
) -> None:
    events = make_events(9)
    poison = make_event(100, source={"ip": "not-an-ip"})
    batch = [*events[:4], poison, *events[4:]]
    rejected, _ = await deliver(sink, batch, batch_size=len(batch))
    assert [r.event for r in rejected] == [poison]
    assert rejected[0].reason.startswith(
        "400 document_parsing_exception: [1:2] failed to parse field [source.ip]"
    )
    assert "'not-an-ip' is not an IP string literal." in rejected[0].reason
    assert_exactly_once(fake, events)


async def test_poison_and_busy_items_in_one_answer(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
    events = make_events(6)
    poison = make_event(100, source={"ip": "300.1.1.1"})
    fake.inject(ItemFault(429, every=2, offset=1))
    result = await sink.send([poison, *events])
    assert [r.event for r in result.rejected] == [poison]
    assert result.retry == [events[0], events[2], events[4]]


async def test_too_large_request_is_split_until_it_fits() -> None:
    events = make_events(40)
    limit = len(b"".join(e.body for e in events[:5])) + 1000
    async with FakeElasticsearch(max_content_length=limit) as fake:
        sink = make_sink(fake.url)
        try:
            result = await sink.send(events)
        finally:
            await sink.close()
        assert result.rejected == []
        assert result.retry == []
        assert_exactly_once(fake, events)
        assert sum(1 for r in fake.requests if len(r.body) > limit) >= 1, "the first request was too large"


async def test_event_too_large_alone_is_rejected_and_the_rest_delivered() -> None:
    events = make_events(4)
    huge = make_event(99, cloudflare={"blob": "x" * 5000})
    async with FakeElasticsearch(max_content_length=2000) as fake:
        sink = make_sink(fake.url, gzip=False)
        try:
            result = await sink.send([*events[:2], huge, *events[2:]])
        finally:
            await sink.close()
        assert [r.event for r in result.rejected] == [huge]
        assert "max_content_length" in result.rejected[0].reason
        assert_exactly_once(fake, events)


async def test_a_split_half_that_fails_is_retried_not_lost() -> None:
    events = make_events(8)
    limit = len(b"".join(e.body for e in events[:4])) + 600
    async with FakeElasticsearch(max_content_length=limit) as fake:
        sink = make_sink(fake.url, gzip=False)
        try:
            # The whole batch gets 413 (no fault consumed); the first half then gets 503.
            fake.inject(WholeFault(503))
            result = await sink.send(events)
            assert result.retry == events[:4]
            assert "503" in result.retry_reason
            rejected, _ = await deliver(sink, result.retry)
        finally:
            await sink.close()
        assert rejected == []
        assert_exactly_once(fake, events)


async def test_a_batch_larger_than_batch_max_bytes_goes_in_several_requests() -> None:
    events = make_events(20)
    async with FakeElasticsearch() as fake:
        sink = make_sink(fake.url, batch_max_bytes=2048)
        try:
            result = await sink.send(events)
        finally:
            await sink.close()
        assert result.rejected == []
        assert result.retry == []
        assert_exactly_once(fake, events)
        sizes = [len(request.body) for request in fake.requests]
        assert len(sizes) > 1
        # The action lines count: the limit holds for the NDJSON on the wire, not only the documents.
        assert max(sizes) <= 2048
        assert sum(sizes) > sum(len(event.body) + 1 for event in events)


async def test_a_busy_cluster_stops_the_requests_of_a_batch_and_loses_nothing() -> None:
    events = make_events(20)
    async with FakeElasticsearch() as fake:
        sink = make_sink(fake.url, batch_max_bytes=2048)
        try:
            # Nothing through: the whole batch is retryable, as when it fits one request.
            fake.inject(WholeFault(429, retry_after="3"))
            with pytest.raises(RetryableError) as raised:
                await sink.send(events)
            assert raised.value.retry_after == 3.0
            assert len(fake.requests) == 1, "the requests after a 429 were sent anyway"
            # The first request through, the second refused: the rest come back to be sent again.
            fake.inject(DelayFault(0), WholeFault(503))
            result = await sink.send(events)
            assert len(fake.requests) == 3
            sent_first = orjson.loads(fake.requests[1].body.split(b"\n")[0])["create"]["_id"]
            assert sent_first == events[0].event_id
            assert result.retry
            assert result.retry == events[len(events) - len(result.retry) :]
            assert "503" in result.retry_reason
            rejected, _ = await deliver(sink, result.retry)
        finally:
            await sink.close()
        assert rejected == []
        assert_exactly_once(fake, events)


async def test_replay_after_a_crash_leaves_each_event_once(fake: FakeElasticsearch) -> None:
    """A restart replays the last uncommitted window: ids make the replay answer 409 = delivered."""
    window = make_events(30)
    first = make_sink(fake.url)
    fake.inject(ResetFault(after_write=True))  # the crash: written, but the answer never arrived
    with pytest.raises(RetryableError):
        await first.send(window[:20])
    await first.close()

    restarted = make_sink(fake.url)
    try:
        rejected, attempts = await deliver(restarted, window, batch_size=20)
        assert rejected == []
        assert attempts == 2
        # A second replay of the whole window, as after one more crash, changes nothing.
        rejected, _ = await deliver(restarted, window, batch_size=30)
        assert rejected == []
    finally:
        await restarted.close()
    assert_exactly_once(fake, window)
    # The lost answer, the two batches of the window after the restart, and the second replay.
    assert len(fake.requests) == 4


async def test_index_mode_replay_overwrites_in_place() -> None:
    async with FakeElasticsearch() as fake:
        sink = make_sink(
            fake.url, target_type="index", target_access_requests="cf-access", target_scim_updates="cf-scim"
        )
        try:
            events = make_events(10)
            await deliver(sink, events)
            await deliver(sink, events)
        finally:
            await sink.close()
        assert fake.targets["cf-access"].kind == "index"
        assert Counter(fake.document_ids()) == Counter({e.event_id: 1 for e in events})
        assert fake.requests[0].body.startswith(b'{"index":{"_index":')


async def test_raw_documents_get_a_timestamp_in_data_streams(fake: FakeElasticsearch) -> None:
    sink = make_sink(fake.url, format="raw")
    event = make_event(5, drop=["@timestamp"])
    try:
        result = await sink.send([event])
    finally:
        await sink.close()
    assert result.rejected == []
    assert fake.documents(ACCESS)[event.event_id]["@timestamp"] == "2025-03-01T12:00:05Z"


async def test_missing_target_without_template_is_a_config_error() -> None:
    async with FakeElasticsearch(flavor="opensearch", auto_create_index=False) as fake:
        sink = make_sink(fake.url)
        try:
            with pytest.raises(SinkConfigError) as raised:
                await sink.send(make_events(3))
        finally:
            await sink.close()
    message = str(raised.value)
    assert "index_not_found_exception" in message
    assert "FORWARDER_ELASTICSEARCH__BOOTSTRAP_TEMPLATE=true" in message
    assert "(and 2 more events)" in message


async def test_index_action_into_a_data_stream_names_target_type(fake: FakeElasticsearch) -> None:
    # Elasticsearch's built-in logs-*-* template makes these data streams, which refuse `index`.
    sink = make_sink(fake.url, target_type="index")
    try:
        with pytest.raises(SinkConfigError, match="FORWARDER_ELASTICSEARCH__TARGET_TYPE"):
            await sink.send(make_events(2))
    finally:
        await sink.close()


async def test_missing_write_privilege_is_a_config_error() -> None:
    async with FakeElasticsearch(api_keys=[("id1", "k1")], writable=[SCIM]) as fake:
        sink = make_sink(fake.url, api_key="id1:k1")
        try:
            with pytest.raises(SinkConfigError) as raised:
                await sink.send(make_events(2))
        finally:
            await sink.close()
        # The SCIM event was written; the replay after the fix will answer 409 for it.
        assert len(fake.document_ids()) == 1
    assert "create_doc" in str(raised.value)
    assert "TARGET_ACCESS_REQUESTS" in str(raised.value)


async def test_ids_survive_json_escaping(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
    event = make_event(1)
    body = orjson.loads(event.body)
    assert body["cloudflare"]["text"] == 'ünïcode ✓ "quoted"'
    await sink.send([event])
    assert fake.documents(ACCESS)[event.event_id]["cloudflare"]["text"] == 'ünïcode ✓ "quoted"'
