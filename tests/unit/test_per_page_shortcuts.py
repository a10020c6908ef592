"""The per-page forms of per-record steps give what the per-record steps give: de-duplication
(SeenIds.unseen, SeenIds.add_all), a page's records (records_from_api) and the per-stream counts of
the instruments (by_stream)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.pipeline.instruments import by_stream
from forwarder.records import LogType, Record
from forwarder.sinks.base import Event
from forwarder.source.paging import record_from_api, records_from_api
from forwarder.source.remembered import SeenIds

START = datetime(2026, 1, 1, tzinfo=UTC)
ids = st.text("0123456789abcdef", min_size=4, max_size=6)


def _record(
    event_id: str, account_id: str = "account", log_type: LogType = LogType.ACCESS_REQUESTS
) -> Record:
    return Record(log_type, account_id, {}, event_id, None, START)


@settings(max_examples=200)
@given(
    st.lists(ids, max_size=30),
    st.lists(ids, max_size=30),
    st.lists(st.text("0123456789abcdef", min_size=2, max_size=2), max_size=5),
)
def test_unseen_keeps_what_contains_does_not_know(
    seen: list[str], page: list[str], restored: list[str]
) -> None:
    remembered = SeenIds(limit=1000)
    remembered.restore(restored, START)
    for event_id in seen:
        remembered.add(event_id, START)
    records = [_record(event_id) for event_id in page]
    assert remembered.unseen(records) == [record for record in records if record.event_id not in remembered]


@settings(max_examples=200)
@given(st.integers(1, 25), st.lists(ids, max_size=20), st.lists(ids, max_size=30))
def test_add_all_remembers_what_add_one_by_one_does(limit: int, before: list[str], added: list[str]) -> None:
    one_by_one, at_once = SeenIds(limit), SeenIds(limit)
    for index, event_id in enumerate(before):
        one_by_one.add(event_id, START + timedelta(seconds=index))
        at_once.add(event_id, START + timedelta(seconds=index))
    pairs = [(event_id, START + timedelta(seconds=100 + index)) for index, event_id in enumerate(added)]
    for event_id, moment in pairs:
        one_by_one.add(event_id, moment)
    at_once.add_all(pairs)
    assert at_once._times == one_by_one._times
    assert list(at_once._times) == list(one_by_one._times)


def test_a_page_of_records_is_each_record_made_alone() -> None:
    observed = datetime(2026, 2, 1, tzinfo=UTC)
    page: list[object] = [
        {"created_at": "2026-01-05T10:00:00Z", "ray_id": "a"},
        "not an object",
        {"created_at": "2026-01-05T10:00:00.500+01:00", "ray_id": "b"},
        {"ray_id": "no time"},
        {"created_at": 1767607200, "ray_id": "epoch"},
    ]
    for log_type in LogType:
        made = records_from_api(log_type, "account", page, observed)
        alone = [
            record_from_api(log_type, "account", item, observed) for item in page if isinstance(item, dict)
        ]
        assert made == alone


SHARED = {"a": "account-a", "b": "account-b"}


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.booleans(), st.sampled_from(list(LogType))), max_size=20
    )
)
def test_stream_counts_are_the_counter_of_every_event(streams: list[tuple[str, bool, LogType]]) -> None:
    # Records of one stream share their account object; equal accounts may also be distinct objects.
    events = [
        Event(_record("id", f"account-{name}" if fresh else SHARED[name], log_type), b"{}")
        for name, fresh, log_type in streams
    ]
    counts = Counter(
        (f"{event.record.account_id}/{event.record.log_type.value}", event.record.log_type.value)
        for event in events
    )
    assert by_stream(events) == dict(counts)
