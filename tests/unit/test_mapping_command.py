"""`cloudflare-siem-forwarder map`: any input a person has at hand, NDJSON out, bad lines named."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from forwarder.formats import Format
from forwarder.map_command import EXIT_BAD_INPUT, EXIT_OK, run_map
from forwarder.records import LogType

OBSERVED = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
LOGIN = {"user_email": "a@example.com", "action": "login", "allowed": True, "ray_id": "r1"}
LOGOUT = {"user_email": "b@example.com", "action": "logout", "allowed": True, "ray_id": "r2"}


def _run(
    source: bytes, fmt: Format = "ecs", log_type: LogType = LogType.ACCESS_REQUESTS, **options: Any
) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.BytesIO(), io.StringIO()
    code = run_map(fmt, log_type, io.BytesIO(source), out, err, observed=OBSERVED, **options)
    assert out.getvalue() == b"" or out.getvalue().endswith(b"\n")
    return code, [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def _actions(documents: list[dict[str, Any]]) -> list[str]:
    return [document["event"]["action"] for document in documents]


def test_a_json_array_of_records() -> None:
    code, documents, err = _run(orjson.dumps([LOGIN, LOGOUT]))
    assert (code, _actions(documents), err) == (EXIT_OK, ["login", "logout"], "")


def test_a_cloudflare_api_response_envelope() -> None:
    envelope = {"success": True, "errors": [], "messages": [], "result": [LOGIN, LOGOUT], "result_info": {}}
    code, documents, _ = _run(orjson.dumps(envelope, option=orjson.OPT_INDENT_2))
    assert (code, _actions(documents)) == (EXIT_OK, ["login", "logout"])


def test_ndjson_with_a_malformed_line_reports_its_number_and_maps_the_rest() -> None:
    source = orjson.dumps(LOGIN) + b"\n\n" + b'{"action": "login", oops}\n' + orjson.dumps(LOGOUT) + b"\n"
    code, documents, err = _run(source)
    assert code == EXIT_BAD_INPUT
    assert _actions(documents) == ["login", "logout"]
    assert err.startswith("line 3: malformed JSON: ")
    assert err.count("\n") == 1


def test_a_record_that_is_not_an_object_is_reported_and_skipped() -> None:
    code, documents, err = _run(orjson.dumps([LOGIN, 42, LOGOUT]))
    assert (code, _actions(documents)) == (EXIT_BAD_INPUT, ["login", "logout"])
    assert err == "record 2: not a JSON object but int\n"


def test_a_broken_single_document_is_reported_once_with_its_position() -> None:
    code, documents, err = _run(b'{\n  "success": true,\n  "result": [\n    {"action": "login"},\n  ]\n}\n')
    assert (code, documents) == (EXIT_BAD_INPUT, [])
    assert err.count("\n") == 1
    assert err == "line 4: malformed JSON: trailing comma is not allowed (column 24)\n"


def test_a_broken_pretty_printed_document_with_a_complete_line_inside_is_still_one_document() -> None:
    code, documents, err = _run(b'{\n  "result": [\n    {"action": "login"}\n  ],\n}\n')
    assert (code, documents) == (EXIT_BAD_INPUT, [])
    assert err.count("\n") == 1


def test_a_broken_json_array_is_reported_once() -> None:
    code, documents, err = _run(b'[{"action": "login"},\n {"action": ]')
    assert (code, documents) == (EXIT_BAD_INPUT, [])
    assert err.startswith("line 2: malformed JSON")


def test_an_envelope_reporting_failure_is_an_error() -> None:
    envelope = {
        "success": False,
        "errors": [{"code": 10000, "message": "Authentication error"}],
        "result": [],
    }
    code, documents, err = _run(orjson.dumps(envelope))
    assert (code, documents) == (EXIT_BAD_INPUT, [])
    assert "Authentication error" in err


@pytest.mark.parametrize(
    "envelope",
    [
        # The shape of Cloudflare's error answers: no records, `result` null.
        {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}], "result": None},
        {"success": False, "errors": [{"code": 7003, "message": "No route for the URI"}], "messages": []},
        {"errors": [], "messages": [], "result": [LOGIN]},
        {"success": True, "errors": [], "result": {"unexpected": 1}},
    ],
)
def test_an_error_or_odd_envelope_is_refused_not_mapped_as_a_record(envelope: dict[str, Any]) -> None:
    code, documents, err = _run(orjson.dumps(envelope))
    assert (code, documents) == (EXIT_BAD_INPUT, [])
    assert err.startswith("envelope: the API answer")


@pytest.mark.parametrize("source", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_input_writes_nothing(source: bytes) -> None:
    assert _run(source) == (EXIT_OK, [], "")


def test_a_byte_order_mark_is_ignored() -> None:
    code, documents, _ = _run(b"\xef\xbb\xbf" + orjson.dumps([LOGIN]))
    assert (code, _actions(documents)) == (EXIT_OK, ["login"])


def test_ocsf_and_raw_formats_and_the_account_id() -> None:
    _, (event,), _ = _run(orjson.dumps([LOGIN]), "ocsf", account_id="acc-1")
    assert (event["class_uid"], event["metadata"]["tenant_uid"]) == (3002, "acc-1")
    _, (raw,), _ = _run(orjson.dumps([LOGIN]), "raw", account_id="acc-1")
    assert raw["ray_id"] == "r1"
    assert raw["_forwarder"]["account_id"] == "acc-1"


def test_scim_records_are_redacted_in_every_format_raw_included() -> None:
    record = {
        "request_method": "POST",
        "resource_type": "USER",
        "request_body": '{"password": "p4ss", "x": "y"}',
    }
    for fmt in ("raw", "ecs", "ocsf"):
        code, (document,), _ = _run(orjson.dumps([record]), fmt, LogType.SCIM_UPDATES)
        assert code == EXIT_OK
        assert b"p4ss" not in orjson.dumps(document), fmt


def test_configured_redaction_and_size_limit_are_applied() -> None:
    record = {"request_body": orjson.dumps({"phone": "+351", "big": "x" * 5000}).decode()}
    _, (raw,), _ = _run(
        orjson.dumps([record]),
        "raw",
        LogType.SCIM_UPDATES,
        redact_keys=frozenset({"phone"}),
        max_body_bytes=500,
    )
    assert "+351" not in raw["request_body"]
    assert len(raw["request_body"].encode()) <= 500
    assert "truncated" in raw["request_body"]


def test_a_record_whose_time_overflows_still_maps() -> None:
    """A time an offset pushes out of range reads as no time: the record maps with the observed time."""
    source = orjson.dumps({"created_at": "0001-01-01T00:00:00+01:00"}) + b"\n" + orjson.dumps(LOGIN) + b"\n"
    code, documents, err = _run(source)
    assert (code, err) == (EXIT_OK, "")
    assert len(documents) == 2
    assert documents[1]["event"]["action"] == "login"
