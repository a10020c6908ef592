"""`_bulk` NDJSON encoding: exact bytes, refusals before sending, and the bootstrap template."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.elasticsearch import ElasticsearchSettings
from forwarder.sinks.elasticsearch.encoder import BulkEncoder, has_timestamp
from forwarder.sinks.elasticsearch.template import template_body, vendor_mapping
from tests.support.elasticsearch_helpers import make_event

TARGETS = {
    LogType.ACCESS_REQUESTS: "logs-cloudflare.access_requests-default",
    LogType.SCIM_UPDATES: "logs-cloudflare.scim_updates-default",
    LogType.AUDIT_LOGS: "logs-cloudflare.audit_logs-default",
}


def test_exact_bytes_of_a_batch() -> None:
    access, scim = make_event(1), make_event(2, LogType.SCIM_UPDATES)
    encoded = BulkEncoder(TARGETS, "create", add_timestamp=True).encode([access, scim])
    assert encoded.rejected == []
    assert encoded.body() == (
        b'{"create":{"_index":"logs-cloudflare.access_requests-default","_id":"'
        + access.event_id.encode()
        + b'"}}\n'
        + access.body
        + b'\n{"create":{"_index":"logs-cloudflare.scim_updates-default","_id":"'
        + scim.event_id.encode()
        + b'"}}\n'
        + scim.body
        + b"\n"
    )


def test_the_body_is_copied_not_re_encoded() -> None:
    # Key order and spacing that orjson would not produce survive untouched.
    event = make_event(1)
    odd = Event(record=event.record, body=b'{"z": 1,  "@timestamp": "x"}')
    encoded = BulkEncoder(TARGETS, "index", add_timestamp=False).encode([odd])
    assert encoded.body().endswith(b'"}}\n{"z": 1,  "@timestamp": "x"}\n')
    assert encoded.body().startswith(b'{"index":{')


def test_id_over_512_bytes_is_rejected_before_sending() -> None:
    event = make_event(1)
    record = make_record(LogType.ACCESS_REQUESTS, "a", {})
    long_id = Event(
        record=type(record)(**{**{s: getattr(record, s) for s in record.__slots__}, "event_id": "é" * 257}),
        body=event.body,
    )
    encoded = BulkEncoder(TARGETS, "create", add_timestamp=True).encode([long_id, event])
    assert encoded.events == [event]
    assert len(encoded.chunks) == 1
    assert "512-byte" in encoded.rejected[0].reason


def test_raw_line_break_is_rejected_not_sent() -> None:
    event = make_event(1)
    broken = Event(record=event.record, body=b'{"a":\n1}')
    encoded = BulkEncoder(TARGETS, "create", add_timestamp=True).encode([broken, event])
    assert len(encoded.events) == len(encoded.chunks) == 1
    assert "line break" in encoded.rejected[0].reason


def test_timestamp_is_spliced_in_for_data_streams_only() -> None:
    event = make_event(3, drop=["@timestamp"])
    assert "@timestamp" not in event.document
    stream = BulkEncoder(TARGETS, "create", add_timestamp=True).encode([event]).body()
    source = orjson.loads(stream.split(b"\n")[1])
    assert source["@timestamp"] == "2025-03-01T12:00:03Z"
    assert {k: v for k, v in source.items() if k != "@timestamp"} == event.document
    index = BulkEncoder(TARGETS, "index", add_timestamp=False).encode([event]).body()
    assert "@timestamp" not in orjson.loads(index.split(b"\n")[1])


def test_only_a_top_level_timestamp_counts() -> None:
    assert has_timestamp(b'{"@timestamp":"2025-03-01T12:00:01Z","a":1}')
    assert has_timestamp(b'{"a": 1, "@timestamp": "x"}')
    # Nested, or only inside a string: the document still needs one at the top.
    assert not has_timestamp(b'{"unmapped":{"@timestamp":"x"}}')
    assert not has_timestamp(b'{"note":"\\"@timestamp\\""}')
    assert not has_timestamp(b'{"a":1}')
    assert not has_timestamp(b'["@timestamp"]')


def test_timestamp_into_an_empty_document() -> None:
    event = make_event(1)
    empty = Event(record=event.record, body=b"{}")
    source = BulkEncoder(TARGETS, "create", add_timestamp=True).encode([empty]).body().split(b"\n")[1]
    assert orjson.loads(source) == {"@timestamp": "2025-03-01T12:00:01Z"}


def test_halves_keep_every_event_once() -> None:
    events = [make_event(n) for n in range(5)]
    encoded = BulkEncoder(TARGETS, "create", add_timestamp=True).encode(events)
    first, second = encoded.halves()
    assert first.events + second.events == events
    assert first.body() + second.body() == encoded.body()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(
    documents=st.lists(
        st.dictionaries(st.text(max_size=10), json_values, max_size=4), min_size=1, max_size=8
    ),
    ids=st.lists(st.text(min_size=1, max_size=40), min_size=8, max_size=8),
)
def test_ndjson_round_trip(documents: list[dict[str, Any]], ids: list[str]) -> None:
    """Whatever the documents and ids hold, the body parses back into the same action/source pairs."""
    base = make_event(0)
    events = []
    for document, event_id in zip(documents, ids, strict=False):
        record = type(base.record)(
            **{**{s: getattr(base.record, s) for s in base.record.__slots__}, "event_id": event_id}
        )
        events.append(Event(record=record, body=orjson.dumps(document)))
    encoded = BulkEncoder(TARGETS, "create", add_timestamp=False).encode(events)
    assert encoded.rejected == []
    body = encoded.body()
    assert body.endswith(b"\n")
    lines = body[:-1].split(b"\n")
    assert len(lines) == 2 * len(events)
    for number, event in enumerate(events):
        action = orjson.loads(lines[2 * number])
        assert action == {"create": {"_index": TARGETS[LogType.ACCESS_REQUESTS], "_id": event.event_id}}
        assert orjson.loads(lines[2 * number + 1]) == event.document


def template_settings(**values: object) -> ElasticsearchSettings:
    return ElasticsearchSettings(url="http://127.0.0.1:9200", **values)  # type: ignore[arg-type]


def test_template_covers_our_targets_with_ecs_types() -> None:
    body = template_body(template_settings(template_composed_of=["logs@settings"]), "elasticsearch", "9.1.0")
    assert body["index_patterns"] == sorted(TARGETS.values())
    assert body["data_stream"] == {}
    assert body["priority"] == 200
    assert body["composed_of"] == ["logs@settings"]
    properties = body["template"]["mappings"]["properties"]
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["source"]["properties"]["ip"] == {"type": "ip"}
    assert properties["related"]["properties"]["ip"] == {"type": "ip"}
    assert properties["user"]["properties"]["email"]["type"] == "keyword"
    assert (
        properties["user"]["properties"]["target"]["properties"]["group"]["properties"]["name"]["type"]
        == "keyword"
    )
    assert properties["event"]["properties"]["created"] == {"type": "date"}
    assert properties["url"]["properties"]["full"]["type"] == "keyword"
    assert properties["cloudflare"] == {"type": "flattened"}


def test_plain_index_template_has_no_data_stream() -> None:
    body = template_body(
        template_settings(
            target_type="index",
            target_access_requests="cf-access",
            target_scim_updates="cf-scim",
            target_audit_logs="cf-audit",
        ),
        "opensearch",
        "2.17.0",
    )
    assert "data_stream" not in body
    assert body["index_patterns"] == ["cf-access", "cf-audit", "cf-scim"]


def test_vendor_namespace_type_per_product() -> None:
    assert vendor_mapping("elasticsearch", "8.15.0") == {"type": "flattened"}
    assert vendor_mapping("elasticsearch", "7.2.0") == {"type": "object"}
    assert vendor_mapping("opensearch", "2.7.0") == {"type": "flat_object"}
    assert vendor_mapping("opensearch", "1.3.0") == {"type": "object"}


def _leaves(document: dict[str, Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for key, value in document.items():
        if isinstance(value, dict) and f"{prefix}{key}" != "cloudflare":
            names |= _leaves(value, f"{prefix}{key}.")
        else:
            names.add(f"{prefix}{key}")
    return names


def test_template_types_every_field_the_ecs_mapping_emits() -> None:
    """The bootstrap template leaves nothing the ECS mapping writes to dynamic mapping."""
    import json
    from pathlib import Path

    from forwarder.formats.ecs import to_ecs
    from forwarder.sinks.elasticsearch.template import ECS_FIELDS

    samples = Path(__file__).resolve().parents[1] / "golden" / "input"
    emitted: set[str] = set()
    for name, log_type in (
        ("access_requests_200.docs_example.json", LogType.ACCESS_REQUESTS),
        ("scim_updates_200.from_openapi_examples.json", LogType.SCIM_UPDATES),
        ("audit_logs_200.from_openapi_examples.json", LogType.AUDIT_LOGS),
    ):
        for data in json.loads((samples / name).read_text())["result"]:
            emitted |= _leaves(to_ecs(make_record(log_type, "account", data)))
    assert emitted, "no sample records were mapped"
    assert emitted - set(ECS_FIELDS) - {"cloudflare"} == set()
