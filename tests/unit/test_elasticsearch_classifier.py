"""The `_bulk` classifier against real item and whole-request answers.

The item bodies are as Elasticsearch 7-9 and OpenSearch 2 write them (from their documentation,
issue reports and test suites); the verdict column is the contract of the DESIGN's sink section.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from forwarder.sinks.base import Verdict
from forwarder.sinks.elasticsearch.classifier import (
    classify_bulk_response,
    classify_item,
    describe_error,
)

CONFLICT = {
    "type": "version_conflict_engine_exception",
    "reason": "[b1946ac92492d2347c6235b4d2611184]: version conflict, document already exists "
    "(current version [1])",
    "index_uuid": "q4Sr0o0qQ7yqmN1wq2xE4A",
    "shard": "0",
    "index": ".ds-logs-cloudflare.access_requests-default-2025.03.01-000001",
}
REJECTED_EXECUTION = {
    "type": "es_rejected_execution_exception",
    "reason": "rejected execution of primary operation [coordinating_and_primary_bytes=1073741824, "
    "replica_bytes=0, all_bytes=1073741824, primary_operation_bytes=5071, "
    "max_coordinating_and_primary_bytes=1073741824]",
}
MAPPER_PARSING = {
    "type": "mapper_parsing_exception",
    "reason": "failed to parse field [source.ip] of type [ip] in document with id 'x1'. "
    "Preview of field's value: 'not-an-ip'",
    "caused_by": {"type": "illegal_argument_exception", "reason": "'not-an-ip' is not an IP string literal."},
}
DOCUMENT_PARSING = {
    "type": "document_parsing_exception",
    "reason": "[1:2] failed to parse",
    "caused_by": {
        "type": "illegal_argument_exception",
        "reason": "data stream timestamp field [@timestamp] is missing",
    },
}
ILLEGAL_ARGUMENT = {
    "type": "illegal_argument_exception",
    "reason": "Limit of total fields [1000] has been exceeded while adding new fields [3]",
}
UNAVAILABLE = {
    "type": "unavailable_shards_exception",
    "reason": "[logs-x][0] primary shard is not active Timeout: [1m], "
    "request: [BulkShardRequest [[logs-x][0]] containing [500] requests]",
}
SECURITY = {
    "type": "security_exception",
    "reason": "action [indices:data/write/bulk[s]] is unauthorized for API key id [Vn7x] of user "
    "[forwarder] on indices [logs-cloudflare.access_requests-default], this action is granted by the "
    "index privileges [create_doc,create,index,write,all]",
}
NOT_FOUND = {
    "type": "index_not_found_exception",
    "reason": "no such index [logs-cloudflare.access_requests-default] and "
    "[action.auto_create_index] is [false]",
    "index": "logs-cloudflare.access_requests-default",
}
OP_TYPE = {
    "type": "illegal_argument_exception",
    "reason": "only write ops with an op_type of create are allowed in data streams",
}
PIPELINE = {"type": "illegal_argument_exception", "reason": "pipeline with id [cloudflare] does not exist"}
FLOOD = {
    "type": "cluster_block_exception",
    "reason": "index [.ds-logs-x-2025.03.01-000001] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded "
    "flood-stage watermark, index has read-only-allow-delete block];",
}
OLD_FLOOD = {
    "type": "cluster_block_exception",
    "reason": "index [logs] blocked by: [FORBIDDEN/12/index read-only / allow delete (api)];",
}


def item(action: str, status: int, error: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_index": "logs-cloudflare.access_requests-default",
        "_id": "x1",
        "status": status,
    }
    if error is not None:
        body["error"] = error
    else:
        body.update({"result": "created", "_version": 1, "_seq_no": 0, "_primary_term": 1})
    return {action: body}


ITEM_TABLE = [
    # (item, verdict, text the reason must contain)
    (item("create", 201), Verdict.DELIVERED, ""),
    (item("index", 200), Verdict.DELIVERED, ""),
    (item("index", 201), Verdict.DELIVERED, ""),
    (item("create", 409, CONFLICT), Verdict.DELIVERED, ""),
    (item("index", 409, CONFLICT), Verdict.RETRY, "version_conflict_engine_exception"),
    (item("create", 429, REJECTED_EXECUTION), Verdict.RETRY, "es_rejected_execution_exception"),
    (item("create", 500, {"type": "illegal_state_exception", "reason": "boom"}), Verdict.RETRY, "500"),
    (item("create", 503, UNAVAILABLE), Verdict.RETRY, "unavailable_shards_exception"),
    (item("create", 429, FLOOD), Verdict.RETRY, "flood-stage"),
    (item("create", 403, OLD_FLOOD), Verdict.RETRY, "cluster_block_exception"),
    (item("create", 400, MAPPER_PARSING), Verdict.REJECT, "not an IP string literal"),
    (item("create", 400, DOCUMENT_PARSING), Verdict.REJECT, "[@timestamp] is missing"),
    (item("create", 400, ILLEGAL_ARGUMENT), Verdict.REJECT, "Limit of total fields"),
    (
        item("create", 400, {"type": "strict_dynamic_mapping_exception", "reason": "x"}),
        Verdict.REJECT,
        "strict",
    ),
    (item("create", 403, SECURITY), Verdict.CONFIG, "create_doc"),
    (item("create", 401, {"type": "security_exception", "reason": "x"}), Verdict.CONFIG, "credentials"),
    (item("create", 404, NOT_FOUND), Verdict.CONFIG, "FORWARDER_ELASTICSEARCH__BOOTSTRAP_TEMPLATE"),
    (item("index", 400, OP_TYPE), Verdict.CONFIG, "FORWARDER_ELASTICSEARCH__TARGET_TYPE"),
    (item("create", 400, PIPELINE), Verdict.CONFIG, "FORWARDER_ELASTICSEARCH__PIPELINE"),
    (item("create", 400, {"type": "index_closed_exception", "reason": "closed"}), Verdict.CONFIG, "TARGET"),
    (item("create", 422, {"type": "x", "reason": "y"}), Verdict.REJECT, "422"),
    ({"create": {"_id": "x"}}, Verdict.RETRY, "without a status"),
    ({}, Verdict.RETRY, "malformed"),
]


@pytest.mark.parametrize(("bulk_item", "verdict", "text"), ITEM_TABLE)
def test_item_table(bulk_item: dict[str, Any], verdict: Verdict, text: str) -> None:
    outcome = classify_item(bulk_item)
    assert outcome.verdict is verdict
    assert text in outcome.reason


def test_reject_reason_has_type_reason_and_cause() -> None:
    outcome = classify_item(item("create", 400, MAPPER_PARSING))
    assert outcome.reason == (
        "400 mapper_parsing_exception: failed to parse field [source.ip] of type [ip] in document "
        "with id 'x1'. Preview of field's value: 'not-an-ip' (caused by illegal_argument_exception: "
        "'not-an-ip' is not an IP string literal.)"
    )


def test_reasons_are_bounded() -> None:
    long = {"type": "mapper_parsing_exception", "reason": "x" * 5000}
    assert len(describe_error(long)) == 1000
    assert describe_error("old string error") == "old string error"
    assert describe_error(None) == "no error detail in the answer"


def answer(*items: dict[str, Any], errors: bool = True) -> bytes:
    return orjson.dumps({"took": 30, "errors": errors, "items": list(items)})


def test_items_in_a_200_are_classified_in_order() -> None:
    body = answer(item("create", 201), item("create", 409, CONFLICT), item("create", 429, REJECTED_EXECUTION))
    result = classify_bulk_response(200, body, expected_items=3)
    assert result.whole is None
    assert [o.verdict for o in result.items] == [Verdict.DELIVERED, Verdict.DELIVERED, Verdict.RETRY]


def test_filtered_answer_is_enough() -> None:
    # What `filter_path=errors,items.*.status,items.*.error` leaves of a response.
    body = (
        b'{"errors":true,"items":[{"create":{"status":201}},'
        b'{"create":{"status":400,"error":{"type":"t","reason":"r"}}}]}'
    )
    result = classify_bulk_response(200, body, expected_items=2)
    assert [o.verdict for o in result.items] == [Verdict.DELIVERED, Verdict.REJECT]


def test_an_answer_without_errors_delivers_every_item_without_reading_them() -> None:
    body = answer(item("create", 201), item("create", 201), errors=False)
    result = classify_bulk_response(200, body, expected_items=2)
    assert result.whole is None
    assert [o.verdict for o in result.items] == [Verdict.DELIVERED, Verdict.DELIVERED]
    # The count is still checked: items cannot be matched to events otherwise.
    short = classify_bulk_response(200, answer(item("create", 201), errors=False), expected_items=2)
    assert short.whole is not None
    assert short.whole.verdict is Verdict.RETRY


def test_item_count_mismatch_retries_the_whole_batch() -> None:
    result = classify_bulk_response(200, answer(item("create", 201)), expected_items=2)
    assert result.whole is not None
    assert result.whole.verdict is Verdict.RETRY


def test_retry_after_of_a_200_applies_to_its_retried_items() -> None:
    body = answer(item("create", 201), item("create", 429, REJECTED_EXECUTION))
    result = classify_bulk_response(200, body, expected_items=2, retry_after="5")
    assert [o.retry_after for o in result.items] == [None, 5.0]


WHOLE_TABLE = [
    (413, b"", Verdict.TOO_LARGE, "max_content_length"),
    (
        429,
        b'{"error":{"type":"es_rejected_execution_exception","reason":"busy"},"status":429}',
        Verdict.RETRY,
        "busy",
    ),
    (500, b'{"error":{"type":"null_pointer_exception","reason":null},"status":500}', Verdict.RETRY, "500"),
    (502, b"<html>Bad Gateway</html>", Verdict.RETRY, "Bad Gateway"),
    (
        503,
        b'{"error":{"type":"cluster_block_exception","reason":"no master"},"status":503}',
        Verdict.RETRY,
        "no master",
    ),
    (504, b"", Verdict.RETRY, "504"),
    (408, b"", Verdict.RETRY, "408"),
    (
        401,
        b'{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}',
        Verdict.CONFIG,
        "FORWARDER_ELASTICSEARCH__API_KEY",
    ),
    (
        403,
        b'{"error":{"type":"security_exception","reason":"unauthorized"},"status":403}',
        Verdict.CONFIG,
        "create_doc",
    ),
    (404, b'{"error":"no handler"}', Verdict.CONFIG, "FORWARDER_ELASTICSEARCH__URL"),
    (301, b"", Verdict.CONFIG, "https://elsewhere"),
    (
        400,
        b'{"error":{"type":"illegal_argument_exception",'
        b'"reason":"The bulk request must be terminated by a newline [\\\\n]"},"status":400}',
        Verdict.CONFIG,
        "terminated by a newline",
    ),
    (
        406,
        b'{"error":{"type":"media_type_header_exception",'
        b'"reason":"Content-Type header [x] is not supported"}}',
        Verdict.CONFIG,
        "not supported",
    ),
    (200, b"<html>Kibana</html>", Verdict.CONFIG, "not JSON"),
    (200, b'{"hits":{}}', Verdict.CONFIG, "no items"),
]


@pytest.mark.parametrize(("status", "body", "verdict", "text"), WHOLE_TABLE)
def test_whole_request_table(status: int, body: bytes, verdict: Verdict, text: str) -> None:
    result = classify_bulk_response(
        status,
        body,
        expected_items=2,
        auth_variables="FORWARDER_ELASTICSEARCH__API_KEY",
        location="https://elsewhere",
    )
    assert result.whole is not None
    assert result.whole.verdict is verdict
    assert text in result.whole.reason


def test_whole_retry_carries_retry_after() -> None:
    result = classify_bulk_response(429, b"", expected_items=1, retry_after="7")
    assert result.whole is not None
    assert result.whole.retry_after == 7.0
