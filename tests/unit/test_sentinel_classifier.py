"""The Logs Ingestion classifier against the service's answers, and those of proxies in front of it.

Rows are the documented answers (Learn "Logs Ingestion API in Azure Monitor", "Azure Monitor service
limits", the 2023-01-01 REST spec; Azure Core's error shape), the answers the groundwork fake gives where
Microsoft documents none (404 for an unknown rule or stream), and what a proxy answers (HTML 502, 504).
Only `OperationFailed` (403) and `InvalidAudience` (401) are codes Microsoft has shown, so the status
decides; the code and message are only read to the person.
"""

from __future__ import annotations

import json

import pytest

from forwarder.sinks.base import Verdict
from forwarder.sinks.sentinel.classifier import classify
from forwarder.sinks.sentinel.settings import env_var

STREAM_VARIABLE = env_var("stream_access_requests")


def azure_error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


FORBIDDEN = azure_error(
    "OperationFailed",
    "The authentication token provided does not have access to ingest data for the data collection rule "
    "with immutable Id 'dcr-00000000000000000000000000000001'.",
)
BAD_GATEWAY_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center>502 Bad Gateway</center>"

# status, Retry-After, body, verdict, retry_after, words the reason must hold
TABLE: list[tuple[int, str | None, bytes, Verdict, float | None, tuple[str, ...]]] = [
    (204, None, b"", Verdict.DELIVERED, None, ()),
    (200, None, b"", Verdict.DELIVERED, None, ()),
    (
        413,
        None,
        azure_error("ContentLengthLimitExceeded", "larger than 1 MB"),
        Verdict.TOO_LARGE,
        None,
        ("1 MB",),
    ),
    (413, None, b"<html>413 Request Entity Too Large</html>", Verdict.TOO_LARGE, None, ("413",)),
    (
        429,
        "7",
        azure_error("TooManyRequests", "Request rate is too high"),
        Verdict.RETRY,
        7.0,
        ("429", "rate"),
    ),
    (429, None, b"", Verdict.RETRY, None, ("429",)),
    (503, "3", azure_error("ServiceUnavailable", "unavailable"), Verdict.RETRY, 3.0, ("503",)),
    (503, "Wed, 21 Oct 2015 07:28:00 GMT", b"", Verdict.RETRY, 0.0, ("503",)),
    (
        500,
        None,
        azure_error("InternalServerError", "An internal error occurred."),
        Verdict.RETRY,
        None,
        ("500",),
    ),
    (502, None, BAD_GATEWAY_HTML, Verdict.RETRY, None, ("502", "Bad Gateway")),
    (504, None, b"", Verdict.RETRY, None, ("504",)),
    (408, None, b"", Verdict.RETRY, None, ("408",)),
    (
        401,
        None,
        azure_error("InvalidAudience", "The access token is for 'https://management.azure.com'"),
        Verdict.CONFIG,
        None,
        ("InvalidAudience", "https://monitor.azure.com", env_var("scope"), env_var("tenant_id")),
    ),
    (
        401,
        None,
        azure_error("InvalidToken", "The access token is missing or invalid."),
        Verdict.CONFIG,
        None,
        ("audience", env_var("scope")),
    ),
    (
        403,
        None,
        FORBIDDEN,
        Verdict.CONFIG,
        None,
        ("Monitoring Metrics Publisher", env_var("rule_id"), env_var("client_id"), "30 minutes"),
    ),
    (
        404,
        None,
        azure_error("NotFound", "Data collection rule with immutable Id 'dcr-x' not found."),
        Verdict.CONFIG,
        None,
        (env_var("rule_id"), STREAM_VARIABLE, env_var("url"), "dcr-x"),
    ),
    (
        404,
        None,
        azure_error("InvalidStream", "Stream 'Custom-Unknown' is not declared"),
        Verdict.CONFIG,
        None,
        (STREAM_VARIABLE, "Custom-Unknown"),
    ),
    (
        400,
        None,
        azure_error("InvalidColumnType", "The value of column 'EventCount' is not of type int: \"1\"."),
        Verdict.REJECT,
        None,
        ("EventCount", "columns", STREAM_VARIABLE, env_var("format")),
    ),
    (
        400,
        None,
        azure_error("InvalidPayload", "The body must be a JSON array of objects."),
        Verdict.REJECT,
        None,
        ("400",),
    ),
    (301, None, b"", Verdict.CONFIG, None, ("301", env_var("url"))),
    (405, None, b"", Verdict.CONFIG, None, ("405", env_var("url"))),
]


@pytest.mark.parametrize(
    ("status", "retry_after", "body", "verdict", "wait", "words"),
    TABLE,
    ids=[f"{row[0]}-{index}" for index, row in enumerate(TABLE)],
)
def test_each_answer_has_its_verdict_and_says_what_to_do(
    status: int,
    retry_after: str | None,
    body: bytes,
    verdict: Verdict,
    wait: float | None,
    words: tuple[str, ...],
) -> None:
    outcome = classify(status, body, retry_after, stream_variable=STREAM_VARIABLE)
    assert outcome.verdict is verdict, outcome.reason
    assert outcome.retry_after == wait
    for word in words:
        assert word in outcome.reason


def test_a_long_answer_is_cut_in_the_reason() -> None:
    outcome = classify(502, b"x" * 10_000, None, stream_variable=STREAM_VARIABLE)
    assert len(outcome.reason) < 500
