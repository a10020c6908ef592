"""The http sink's classifier against the answers of Datadog logs intake v2, Sumo Logic HTTP sources,
Logstash's http input, Vector and the proxies in front of them (their documentation: docs/sinks/http.md).

Rows: (receiver, HTTP status, body, Retry-After) -> verdict, words in the reason.
"""

from __future__ import annotations

import pytest

from forwarder.sinks.base import Verdict
from forwarder.sinks.http.classifier import classify
from forwarder.sinks.http.settings import DEFAULT_RETRY_STATUSES

ROWS = [
    ("datadog", 202, b"{}", None, Verdict.DELIVERED, "HTTP 202"),
    ("datadog", 400, b'{"errors":["Bad Request"]}', None, Verdict.REJECT, "Bad Request"),
    ("datadog", 401, b'{"errors":["Unauthorized"]}', None, Verdict.CONFIG, "FORWARDER_HTTP__API_KEY"),
    ("datadog", 403, b'{"errors":["Forbidden"]}', None, Verdict.CONFIG, "refused the credentials"),
    ("datadog", 408, b"Request Timeout", None, Verdict.RETRY, "Request Timeout"),
    ("datadog", 413, b"Payload Too Large", None, Verdict.TOO_LARGE, "too large"),
    ("datadog", 429, b"Too Many Requests", "12", Verdict.RETRY, "HTTP 429"),
    ("datadog", 500, b"Internal Server Error", None, Verdict.RETRY, "HTTP 500"),
    ("datadog", 503, b"Service Unavailable", "3", Verdict.RETRY, "HTTP 503"),
    ("sumo_logic", 200, b"", None, Verdict.DELIVERED, "HTTP 200"),
    ("sumo_logic", 401, b"", None, Verdict.CONFIG, "FORWARDER_HTTP__HEADERS"),
    ("sumo_logic", 408, b"", None, Verdict.RETRY, "an empty body"),
    ("sumo_logic", 429, b"", "60", Verdict.RETRY, "HTTP 429"),
    ("sumo_logic", 504, b"Gateway Timeout", None, Verdict.RETRY, "Gateway Timeout"),
    ("logstash", 200, b"ok", None, Verdict.DELIVERED, "HTTP 200"),
    ("logstash", 429, b"Too Many Requests", None, Verdict.RETRY, "HTTP 429"),
    ("logstash", 401, b"Unauthorized", None, Verdict.CONFIG, "FORWARDER_HTTP__BASIC_PASSWORD"),
    ("vector", 200, b"", None, Verdict.DELIVERED, "HTTP 200"),
    ("vector", 400, b"Failed decoding body", None, Verdict.REJECT, "FORWARDER_HTTP__RETRY_STATUSES"),
    ("vector", 404, b"Not Found", None, Verdict.CONFIG, "FORWARDER_HTTP__URL"),
    ("vector", 405, b"Method Not Allowed", None, Verdict.CONFIG, "FORWARDER_HTTP__URL"),
    ("proxy", 301, b"Moved Permanently", None, Verdict.CONFIG, "FORWARDER_HTTP__URL"),
    ("proxy", 407, b"Proxy Authentication Required", None, Verdict.CONFIG, "credentials"),
    ("proxy", 502, b"<html>Bad Gateway</html>", None, Verdict.RETRY, "Bad Gateway"),
    ("proxy", 501, b"Not Implemented", None, Verdict.REJECT, "Not Implemented"),
]


@pytest.mark.parametrize(
    ("receiver", "status", "body", "retry_after", "verdict", "words"),
    ROWS,
    ids=[f"{row[0]}-{row[1]}" for row in ROWS],
)
def test_each_answer_has_its_verdict(
    receiver: str, status: int, body: bytes, retry_after: str | None, verdict: Verdict, words: str
) -> None:
    outcome = classify(status, body, retry_after, DEFAULT_RETRY_STATUSES)
    assert outcome.verdict is verdict
    assert words in outcome.reason


def test_retry_after_reaches_the_outcome() -> None:
    assert classify(429, b"", "12", DEFAULT_RETRY_STATUSES).retry_after == 12.0


def test_the_retryable_statuses_are_the_persons_to_choose() -> None:
    assert classify(500, b"", None, frozenset({429})).verdict is Verdict.REJECT
    assert classify(409, b"", None, frozenset({409})).verdict is Verdict.RETRY
