"""Delivery into the fake Logs Ingestion API, with tokens from the fake Entra ID, over real sockets: each
event exactly once when nothing fails, nothing lost under each fault (429, 503, 5xx, 413, resets, a token
that expires mid-run)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.azure_faults import CannedAnswer, Fault, Normal, Reset, internal_error, throttled, unavailable
from fakes.azure_monitor import FakeAzureMonitor, too_large
from forwarder.records import LogType
from forwarder.sinks.base import Event, RetryableError
from forwarder.sinks.sentinel.encoder import join
from tests.support.azure import RULE
from tests.support.delivery import deliver
from tests.support.sentinel import AZURE_VARIABLES, AzureFakes, azure_fakes, ids, make_events

pytestmark = pytest.mark.integration

ACCESS_STREAM = "Custom-CloudflareAccessAuthentication"
SCIM_STREAM = "Custom-CloudflareScimUserManagement"
AUDIT_STREAM = "Custom-CloudflareAuditEvent"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureFakes]:
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with azure_fakes(tmp_path) as running:
        yield running


def mixed_batch() -> list[Event]:
    return make_events(30) + make_events(20, start=30, log_type=LogType.SCIM_UPDATES)


@pytest.mark.parametrize("use_gzip", [True, False], ids=["gzip", "plain"])
async def test_each_event_exactly_once_in_the_stream_of_its_log_type(
    fakes: AzureFakes, use_gzip: bool
) -> None:
    sink = fakes.sink(gzip=use_gzip)
    batch = mixed_batch()
    result = await sink.send(batch)
    await sink.close()

    assert (result.rejected, result.retry) == ([], [])
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)
    monitor = fakes.monitor
    assert [row["EventUid"] for row in monitor.accepted[ACCESS_STREAM]] == ids(batch[:30])
    assert [row["EventUid"] for row in monitor.accepted[SCIM_STREAM]] == ids(batch[30:])
    # Nothing the template's streams do not declare, nothing of the wrong type (the fake is strict).
    assert (monitor.dropped_columns, monitor.dropped_values) == ({}, {})
    access, scim = monitor.requests
    assert access.path == f"/dataCollectionRules/{RULE}/streams/{ACCESS_STREAM}"
    assert scim.path == f"/dataCollectionRules/{RULE}/streams/{SCIM_STREAM}"
    assert access.query == {"api-version": "2023-01-01"}
    assert access.headers["Authorization"].startswith("Bearer ")
    assert access.headers["Content-Type"] == "application/json"
    # Exactly the documents the pipeline encoded, spliced into one JSON array, in batch order.
    assert access.body == join([event.body for event in batch[:30]])
    if use_gzip:
        assert access.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(access.raw_body) == access.body
    else:
        assert "Content-Encoding" not in access.headers
        assert access.raw_body == access.body
    # One token for every request: azure-identity cached it.
    assert len(fakes.entra.token_requests) == 1


async def test_audit_log_rows_reach_their_own_stream_exactly_once(fakes: AzureFakes) -> None:
    sink = fakes.sink()
    batch = mixed_batch() + make_events(15, start=50, log_type=LogType.AUDIT_LOGS)
    result = await sink.send(batch)
    await sink.close()

    assert (result.rejected, result.retry) == ([], [])
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)
    monitor = fakes.monitor
    audit_rows = monitor.accepted[AUDIT_STREAM]
    assert [row["EventUid"] for row in audit_rows] == ids(batch[50:])
    assert {(row["EventSchema"], row["EventType"], row["ObjectType"]) for row in audit_rows} == {
        ("AuditEvent", "Set", "Policy Rule")
    }
    # Every column the rows carry is one the template's audit stream declares, with its type.
    assert (monitor.dropped_columns, monitor.dropped_values) == ({}, {})
    (audit_request,) = [request for request in monitor.requests if request.path.endswith(AUDIT_STREAM)]
    assert audit_request.path == f"/dataCollectionRules/{RULE}/streams/{AUDIT_STREAM}"
    assert audit_request.body == join([event.body for event in batch[50:]])


async def test_a_batch_larger_than_batch_max_bytes_goes_in_several_requests(fakes: AzureFakes) -> None:
    sink = fakes.sink(batch_max_bytes=4096)
    batch = make_events(25)
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    sizes = [len(request.body) for request in fakes.monitor.requests]
    assert len(sizes) > 1
    assert max(sizes) <= 4096
    assert [row["EventUid"] for row in fakes.rows()] == ids(batch)


@pytest.mark.parametrize(
    ("fault", "wait"),
    [
        (throttled("2"), 2.0),
        (unavailable("3"), 3.0),
        (internal_error(), None),
        (CannedAnswer(502, b"<html>"), None),
    ],
    ids=["429", "503", "500", "proxy-502"],
)
async def test_a_busy_service_gets_the_whole_batch_again_after_the_wait_it_asked_for(
    fakes: AzureFakes, fault: Fault, wait: float | None
) -> None:
    sink = fakes.sink()
    batch = make_events(10)
    fakes.inject(fault)
    with pytest.raises(RetryableError) as raised:
        await sink.send(batch)
    assert raised.value.retry_after == wait
    assert fakes.counts() == {}
    outcome = await deliver(sink, batch)
    await sink.close()
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)
    assert outcome.rejected == []


async def test_when_one_request_is_throttled_the_rest_of_the_batch_waits_with_it(fakes: AzureFakes) -> None:
    sink = fakes.sink()
    batch = mixed_batch()
    fakes.inject(Normal(), throttled("5"))
    result = await sink.send(batch)
    assert ids(result.retry) == ids(batch[30:])
    assert result.retry_after == 5.0
    assert fakes.counts() == dict.fromkeys(ids(batch[:30]), 1)
    await deliver(sink, result.retry)
    await sink.close()
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)


async def test_a_413_is_split_until_the_halves_pass(fakes: AzureFakes) -> None:
    # Uncompressed, so that the fake keeps the bodies of the requests it refused readable.
    sink = fakes.sink(gzip=False)
    batch = make_events(16)
    fakes.inject(too_large(), too_large())
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)
    assert [len(orjson.loads(request.body)) for request in fakes.monitor.requests] == [16, 8, 4, 4, 8]


async def test_an_event_larger_than_the_service_takes_is_dead_lettered_alone(fakes: AzureFakes) -> None:
    fakes.monitor_thread.call(lambda fake: setattr(fake, "max_request_bytes", 4096))
    sink = fakes.sink(batch_max_bytes=1_000_000)
    batch = make_events(3)
    document = orjson.loads(batch[1].body)
    document["AdditionalFields"] = {"padding": "x" * 5000}
    batch[1] = Event(record=batch[1].record, body=orjson.dumps(document))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [batch[1].event_id]
    assert "1 MB" in outcome.rejected[0].reason
    assert fakes.counts() == dict.fromkeys(ids([batch[0], batch[2]]), 1)


async def test_a_row_the_stream_refuses_is_dead_lettered_and_the_rest_delivered(fakes: AzureFakes) -> None:
    sink = fakes.sink()
    batch = make_events(8)
    document = orjson.loads(batch[5].body)
    document["EventCount"] = "one"
    batch[5] = Event(record=batch[5].record, body=orjson.dumps(document))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert [rejection.event.event_id for rejection in outcome.rejected] == [batch[5].event_id]
    assert "EventCount" in outcome.rejected[0].reason
    assert fakes.counts() == dict.fromkeys(ids(batch[:5] + batch[6:]), 1)


@pytest.mark.parametrize("after_accepting", [False, True], ids=["before", "after-accepting"])
async def test_nothing_is_lost_when_the_connection_resets(fakes: AzureFakes, after_accepting: bool) -> None:
    sink = fakes.sink()
    batch = make_events(10)
    fakes.inject(Reset(after_accepting=after_accepting))
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.sends == 2
    # A reset after the rows were taken loses the answer, not the rows: sent again, they are there twice.
    assert fakes.counts() == dict.fromkeys(ids(batch), 2 if after_accepting else 1)


async def test_a_token_that_expires_mid_run_is_replaced_and_nothing_is_lost(fakes: AzureFakes) -> None:
    sink = fakes.sink()
    first, second = make_events(10), make_events(10, start=10)
    await sink.send(first)
    # Time passes beyond the token's lifetime (as the service sees it) while the credential's cache still
    # holds it: the service answers 401, and the sink asks a renewed credential for a new token.
    fakes.clock.ahead = 3700
    result = await sink.send(second)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fakes.counts() == dict.fromkeys(ids(first + second), 1)
    assert [request.at for request in fakes.entra.token_requests][1] > fakes.entra.token_requests[0].at + 3600
    # The first token, refused once it expired, and the new one.
    tokens = [request.headers["Authorization"] for request in fakes.monitor.requests]
    assert len(tokens) == 3
    assert tokens[1] == tokens[0] != tokens[2]


async def test_under_every_fault_in_turn_nothing_is_lost(fakes: AzureFakes) -> None:
    sink = fakes.sink(batch_max_bytes=8192)
    batch = mixed_batch()
    fakes.inject(
        throttled("0"), unavailable("0"), too_large(), Reset(), internal_error(), Reset(after_accepting=True)
    )
    outcome = await deliver(sink, batch)
    await sink.close()
    assert outcome.rejected == []
    counts = fakes.counts()
    assert set(counts) == set(ids(batch))
    # Only the reset after accepting, which lost an answer, may have made duplicates.
    assert sum(counts.values()) - len(batch) <= len(batch)


FAULTS: dict[str, Fault] = {
    "429": throttled("0"),
    "503": unavailable("0"),
    "500": internal_error(),
    "413": too_large(),
    "reset": Reset(),
    "reset-after-accepting": Reset(after_accepting=True),
    "none": Normal(),
}


def test_nothing_is_lost_under_any_sequence_of_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def forget(fake: FakeAzureMonitor) -> None:
        fake.accepted.clear()
        fake.requests.clear()
        fake.faults.clear()

    with azure_fakes(tmp_path) as fakes:

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(
            faults=st.lists(st.sampled_from(sorted(FAULTS)), max_size=8),
            poison=st.sets(st.integers(0, 11), max_size=2),
            use_gzip=st.booleans(),
        )
        def scenario(faults: list[str], poison: set[int], use_gzip: bool) -> None:
            fakes.monitor_thread.call(forget)
            batch = make_events(6) + make_events(6, start=6, log_type=LogType.SCIM_UPDATES)
            for position in poison:
                # A row the stream refuses (the fake checks column types): it must be dead-lettered alone.
                document = orjson.loads(batch[position].body)
                document["EventCount"] = "one"
                batch[position] = Event(record=batch[position].record, body=orjson.dumps(document))
            fakes.inject(*(FAULTS[name] for name in faults))

            async def run() -> None:
                sink = fakes.sink(gzip=use_gzip, batch_max_bytes=4096)
                outcome = await deliver(sink, batch)
                await sink.close()
                refused = {batch[position].event_id for position in poison}
                rejected = {rejection.event.event_id for rejection in outcome.rejected}
                assert len(rejected) == len(outcome.rejected)
                # A 413 for a request of one event means that event is too large: dead-lettered, with why.
                too_large_alone = {
                    rejection.event.event_id for rejection in outcome.rejected if "1 MB" in rejection.reason
                }
                assert refused <= rejected
                assert rejected - refused <= too_large_alone
                if "413" not in faults:
                    assert too_large_alone == set()
                # Every event is in its table or in the dead letters: nothing is lost.
                counts = fakes.counts()
                assert set(ids(batch)) <= set(counts) | rejected
                if "reset-after-accepting" not in faults:
                    # Without a lost answer, an event is in exactly one of them. (With one, a row the
                    # service stored can come back in a request a later fault refuses: both, never neither.)
                    assert set(counts) == set(ids(batch)) - rejected
                    # Only a lost answer can make a duplicate.
                    assert set(counts.values()) == {1}

            asyncio.run(run())

        scenario()
