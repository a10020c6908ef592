"""The OTLP/HTTP classifier against the answers of the specification, the Collector and proxies.

Rows: (HTTP status, content type, body, Retry-After) -> verdict, rejected count, words in the reason.
The specification ("OTLP/HTTP Response"): 200 with an ExportLogsServiceResponse (maybe a partial
success); 429/502/503/504 retryable; every other failure permanent, with a google.rpc.Status body.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)

from forwarder.sinks.base import Verdict
from forwarder.sinks.otlp.classifier import classify

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def partial(rejected: int, message: str) -> ExportLogsServiceResponse:
    return ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=message)
    )


def status(message: str, code: int = 3) -> bytes:
    return bytes(Status(code=code, message=message).SerializeToString())


def as_json(message: ExportLogsServiceResponse | Status) -> bytes:
    return str(json_format.MessageToJson(message)).encode()


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

ROWS = [
    # Success, in both encodings, and the empty body (the empty message).
    (200, PROTOBUF, ExportLogsServiceResponse().SerializeToString(), None, Verdict.DELIVERED, 0, "HTTP 200"),
    (200, PROTOBUF, b"", None, Verdict.DELIVERED, 0, "HTTP 200"),
    (200, JSON, b"{}", None, Verdict.DELIVERED, 0, "HTTP 200"),
    (200, JSON, b"", None, Verdict.DELIVERED, 0, "HTTP 200"),
    # Partial success: how many, and the message; a message alone is a warning.
    (
        200,
        PROTOBUF,
        partial(3, "3 records too old").SerializeToString(),
        None,
        Verdict.DELIVERED,
        3,
        "HTTP 200",
    ),
    (200, JSON, as_json(partial(2, "body too deep")), None, Verdict.DELIVERED, 2, "HTTP 200"),
    (
        200,
        PROTOBUF,
        partial(0, "deprecated attribute").SerializeToString(),
        None,
        Verdict.DELIVERED,
        0,
        "HTTP 200",
    ),
    # A 200 whose body is not the response: the records were still accepted.
    (200, "text/plain", b"ok", None, Verdict.DELIVERED, 0, "unreadable"),
    # Retryable, with Retry-After, from the receiver or a proxy.
    (429, PROTOBUF, status("too many requests", 8), "7", Verdict.RETRY, 0, "too many requests"),
    (503, PROTOBUF, status("data refused due to high memory usage", 14), "2", Verdict.RETRY, 0, "memory"),
    (503, JSON, as_json(Status(code=14, message="queue is full")), None, Verdict.RETRY, 0, "queue is full"),
    (502, "text/html", HTML_502, None, Verdict.RETRY, 0, "502 Bad Gateway"),
    (504, "text/html", b"<html>Gateway Timeout</html>", None, Verdict.RETRY, 0, "Gateway Timeout"),
    # Too large: smaller requests pass.
    (413, "text/html", b"<html>413 Request Entity Too Large</html>", None, Verdict.TOO_LARGE, 0, "too large"),
    # A person must act: credentials, endpoint, encoding.
    (401, PROTOBUF, status("missing api key", 16), None, Verdict.CONFIG, 0, "FORWARDER_OTLP__HEADERS"),
    (403, "text/plain", b"Forbidden", None, Verdict.CONFIG, 0, "FORWARDER_OTLP__HEADERS"),
    (407, "text/html", b"Proxy Authentication Required", None, Verdict.CONFIG, 0, "credentials"),
    (404, "text/plain", b"404 page not found", None, Verdict.CONFIG, 0, "FORWARDER_OTLP__ENDPOINT"),
    (405, "text/plain", b"405 method not allowed", None, Verdict.CONFIG, 0, "FORWARDER_OTLP__ENDPOINT"),
    (301, "text/html", b"Moved Permanently", None, Verdict.CONFIG, 0, "FORWARDER_OTLP__ENDPOINT"),
    (415, PROTOBUF, status("unsupported content type"), None, Verdict.CONFIG, 0, "FORWARDER_OTLP__PROTOCOL"),
    # Permanent per the specification: the records are refused (dead letters), never retried.
    (
        400,
        PROTOBUF,
        status("proto: cannot parse invalid wire-format data"),
        None,
        Verdict.REJECT,
        0,
        "wire-format",
    ),
    (400, JSON, as_json(Status(code=3, message="invalid JSON")), None, Verdict.REJECT, 0, "invalid JSON"),
    (500, PROTOBUF, status("internal error", 13), None, Verdict.REJECT, 0, "not retryable"),
    (501, "text/plain", b"Not Implemented", None, Verdict.REJECT, 0, "Not Implemented"),
    (408, "text/plain", b"Request Timeout", "5", Verdict.REJECT, 0, "not retryable"),
]


@pytest.mark.parametrize(
    ("status_code", "content_type", "body", "retry_after", "verdict", "rejected", "words"),
    ROWS,
    ids=[f"{row[0]}-{row[6]}" for row in ROWS],
)
def test_each_answer_has_its_verdict(
    status_code: int,
    content_type: str,
    body: bytes,
    retry_after: str | None,
    verdict: Verdict,
    rejected: int,
    words: str,
) -> None:
    outcome = classify(status_code, body, content_type, retry_after)
    assert outcome.verdict is verdict
    assert outcome.rejected == rejected
    assert words in outcome.reason


def test_retry_after_reaches_the_outcome_in_seconds_or_as_a_date() -> None:
    assert classify(429, b"", PROTOBUF, "7").retry_after == 7.0
    assert classify(503, b"", PROTOBUF, "Wed, 21 Oct 2015 07:28:00 GMT").retry_after is not None
    assert classify(503, b"", PROTOBUF, None).retry_after is None


def test_a_partial_success_carries_the_servers_message() -> None:
    outcome = classify(200, partial(3, "3 records too old").SerializeToString(), PROTOBUF)
    assert outcome.message == "3 records too old"


def test_a_failure_reason_quotes_the_status_message_not_the_raw_bytes() -> None:
    outcome = classify(400, status("field body is too deep"), PROTOBUF)
    assert outcome.reason.startswith("HTTP 400: field body is too deep")
