"""The HEC response classifier against the whole code table.

``tests/unit/splunk_hec_status_codes.csv`` is a copy of ``reference/sinks/hec_status_codes.csv``
(Splunk, "Troubleshoot HTTP Event Collector"): every code 0-22 with its HTTP status and text.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest

from forwarder.sinks.base import Verdict
from forwarder.sinks.splunk_hec.classifier import (
    CONFIG_CODES,
    REJECT_CODES,
    RETRY_CODES,
    classify,
    parse_ack_statuses,
)

TABLE = Path(__file__).parent / "splunk_hec_status_codes.csv"


def _rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as table:
        return list(csv.DictReader(table))


ROWS = _rows()

# The table's classes, and what the issue says to do for each.
EXPECTED = {
    "ok": Verdict.DELIVERED,
    "health-ok": Verdict.HEALTHY,
    "permanent": Verdict.NO_DATA,
    "permanent-per-event": Verdict.REJECT,
    "retryable": Verdict.RETRY,
    "fatal-config": Verdict.CONFIG,
}


def test_the_table_has_every_code_once() -> None:
    assert sorted(int(row["hec_code"]) for row in ROWS) == list(range(23))


def test_the_issue_lists_agree_with_the_table() -> None:
    by_class: dict[str, set[int]] = {}
    for row in ROWS:
        by_class.setdefault(row["class"], set()).add(int(row["hec_code"]))
    assert by_class["retryable"] == RETRY_CODES == {8, 9, 18, 19, 20}
    assert by_class["permanent-per-event"] == REJECT_CODES == {6, 7, 12, 13, 15}
    # The issue's configuration list (1-4, 10, 11, 14, 16) plus the health endpoint's 21 and 22.
    assert by_class["fatal-config"] == CONFIG_CODES == {1, 2, 3, 4, 10, 11, 14, 16, 21, 22}


@pytest.mark.parametrize("row", ROWS, ids=[f"code-{row['hec_code']}" for row in ROWS])
def test_every_code_of_the_table(row: dict[str, str]) -> None:
    code, status, text = int(row["hec_code"]), int(row["http_status"]), row["text"]
    body: dict[str, Any] = {"text": text, "code": code}
    if code in (6, 7):
        body["invalid-event-number"] = 3

    outcome = classify(status, orjson.dumps(body))

    assert outcome.verdict is EXPECTED[row["class"]]
    assert outcome.code == code
    assert outcome.status == status
    # A person reads the reason: it carries the code and Splunk's words.
    assert f"HEC code {code}" in outcome.reason
    assert text in outcome.reason
    if code in (6, 7):
        assert outcome.invalid_event_number == 3
        assert "event 3" in outcome.reason
    if outcome.verdict is Verdict.CONFIG:
        # Says what to change, by the name of the setting or of the thing on the Splunk side.
        assert (
            "FORWARDER_SPLUNK_HEC__" in outcome.reason
            or "GUID" in outcome.reason
            or "proxy" in outcome.reason
        )


@pytest.mark.parametrize(
    ("code", "setting"),
    [
        (1, "FORWARDER_SPLUNK_HEC__TOKEN"),
        (2, "FORWARDER_SPLUNK_HEC__TOKEN"),
        (3, "FORWARDER_SPLUNK_HEC__TOKEN"),
        (4, "FORWARDER_SPLUNK_HEC__TOKEN"),
        (10, "FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS"),
        (14, "FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS"),
        (21, "FORWARDER_SPLUNK_HEC__TOKEN"),
        (22, "FORWARDER_SPLUNK_HEC__TOKEN"),
    ],
)
def test_configuration_errors_name_the_setting(code: int, setting: str) -> None:
    outcome = classify(400, orjson.dumps({"text": "x", "code": code}))
    assert outcome.verdict is Verdict.CONFIG
    assert setting in outcome.reason


def test_success_carries_the_ack_id() -> None:
    outcome = classify(200, b'{"text":"Success","code":0,"ackId":42}')
    assert outcome.verdict is Verdict.DELIVERED
    assert outcome.ack_id == 42


def test_success_without_acknowledgement_has_no_ack_id() -> None:
    assert classify(200, b'{"text":"Success","code":0}').ack_id is None


def test_a_per_event_code_without_an_event_number() -> None:
    outcome = classify(400, b'{"text":"Event field is required","code":12}')
    assert outcome.verdict is Verdict.REJECT
    assert outcome.invalid_event_number is None


# Answers of proxies and load balancers in front of HEC: no HEC code, often not JSON.
PROXY_ANSWERS = [
    (408, b"<html>Request Timeout</html>", Verdict.RETRY),
    (413, b"<html>413 Request Entity Too Large</html>", Verdict.TOO_LARGE),
    (413, b"Content-Length of 2000000 too large (maximum is 1000000)", Verdict.TOO_LARGE),
    (429, b"<html>Too Many Requests</html>", Verdict.RETRY),
    (502, b"<html><body>502 Bad Gateway</body></html>", Verdict.RETRY),
    (503, b"Service Unavailable", Verdict.RETRY),
    (504, b"<html>Gateway Timeout</html>", Verdict.RETRY),
    (500, b"not json at all", Verdict.RETRY),
    (503, b'{"message":"upstream overloaded"}', Verdict.RETRY),
    # Not HEC at all: a person must fix the URL or the proxy; retrying would loop forever.
    (200, b"<html>Welcome to nginx!</html>", Verdict.CONFIG),
    (404, b"<html>Not Found</html>", Verdict.CONFIG),
    (401, b"Unauthorized", Verdict.CONFIG),
    (407, b"Proxy Authentication Required", Verdict.CONFIG),
    (400, b"", Verdict.CONFIG),
]


@pytest.mark.parametrize(
    ("status", "body", "expected"), PROXY_ANSWERS, ids=[f"{s}-{o}" for s, _, o in PROXY_ANSWERS]
)
def test_proxy_answers_and_bodies_that_are_not_json(status: int, body: bytes, expected: Verdict) -> None:
    outcome = classify(status, body)
    assert outcome.verdict is expected
    assert outcome.code is None
    assert f"HTTP {status}" in outcome.reason


def test_a_proxy_retry_after_is_kept() -> None:
    outcome = classify(429, b"slow down", retry_after="17")
    assert outcome.verdict is Verdict.RETRY
    assert outcome.retry_after == 17.0


def test_busy_keeps_retry_after_too() -> None:
    assert classify(503, b'{"text":"Server is busy","code":9}', retry_after="5").retry_after == 5.0


def test_unknown_codes_fall_back_on_the_http_status() -> None:
    assert classify(500, b'{"text":"new thing","code":99}').verdict is Verdict.RETRY
    unknown = classify(400, b'{"text":"new thing","code":99}')
    assert unknown.verdict is Verdict.CONFIG
    assert "unknown HEC code" in unknown.reason


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        (b'{"acks":{"0":true,"1":false,"7":true}}', {0: True, 1: False, 7: True}),
        (b'{"acks":{}}', {}),
        (b'{"acks":[0,1]}', None),
        (b'{"text":"ACK is disabled","code":14}', None),
        (b"<html>", None),
    ],
)
def test_ack_statuses(body: bytes, statuses: dict[int, bool] | None) -> None:
    assert parse_ack_statuses(body) == statuses
