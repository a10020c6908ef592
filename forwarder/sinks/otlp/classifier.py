"""What an OTLP/HTTP answer means: a pure function from (status, body, content type, Retry-After).

The specification ("OTLP/HTTP Response"):

* 200: an ``ExportLogsServiceResponse``, in the request's encoding. A ``partial_success`` with
  ``rejected_log_records`` > 0 says that many records were refused and must not be sent again; it
  does not say which ones. An ``error_message`` without rejections is a warning.
* 429, 502, 503, 504: retryable, after ``Retry-After`` if the server sent one.
* Every other 4xx and 5xx: not retryable. The body is a ``google.rpc.Status`` whose message says why.

Within "not retryable", what a person must fix is told apart from what no setting fixes: 401, 403
and 407 are the headers (credentials), 404, 405 and 415 the endpoint or protocol, a redirect the
endpoint (`CONFIG`: nothing is dead-lettered while a person fixes it); 413 means smaller requests will
pass (`TOO_LARGE`, as every sink treats it); anything else refuses the records (`REJECT`).

Nothing here does I/O; the table is tested row by row.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from forwarder.retry import retry_after as parse_retry_after
from forwarder.sinks.base import Outcome, Verdict
from forwarder.sinks.otlp.settings import env_var

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CREDENTIALS = frozenset({401, 403, 407})
_WRONG_PLACE = frozenset({404, 405})

_HEADERS = env_var("headers")
_ENDPOINT = env_var("endpoint")
_PROTOCOL = env_var("protocol")


@dataclass(frozen=True, slots=True, kw_only=True)
class OtlpOutcome(Outcome):
    """An outcome with what the server said: ``rejected`` records of a delivered request (partial
    success), and its message (the partial success's, or the ``google.rpc.Status``'s)."""

    status: int
    rejected: int = 0
    message: str = ""


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").strip()
    return " ".join(text.split()) or "an empty body"


def parse_response(body: bytes, content_type: str | None) -> ExportLogsServiceResponse | None:
    """The success answer; None when the body is not one (an empty body is the empty message)."""
    response = ExportLogsServiceResponse()
    try:
        if _is_json(content_type):
            json_format.Parse(body or b"{}", response, ignore_unknown_fields=True)
        else:
            response.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError):
        return None
    return response


def status_message(body: bytes, content_type: str | None) -> str:
    """The ``google.rpc.Status`` message of a failure answer, or the start of the body if it is not one
    (a proxy's HTML page)."""
    status = Status()
    try:
        if _is_json(content_type):
            json_format.Parse(body, status, ignore_unknown_fields=True)
        elif (content_type or "").startswith("application/x-protobuf"):
            status.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError):
        return _snippet(body)
    return status.message or _snippet(body)


def classify(
    status: int, body: bytes, content_type: str | None = None, retry_after: str | None = None
) -> OtlpOutcome:
    """The outcome of one answer to ``POST /v1/logs``."""
    if 200 <= status < 300:
        return _success(status, body, content_type)
    message = status_message(body, content_type)
    described = f"HTTP {status}: {message}"
    if status in RETRY_STATUSES:
        return OtlpOutcome(
            Verdict.RETRY, described, parse_retry_after(retry_after), status=status, message=message
        )
    if status == 413:
        return OtlpOutcome(
            Verdict.TOO_LARGE,
            f"{described}: request too large for the receiver or a proxy in front of it",
            status=status,
            message=message,
        )
    if status in _CREDENTIALS:
        advice = (
            f"the receiver refused the credentials; check {_HEADERS} (or OTEL_EXPORTER_OTLP_LOGS_HEADERS)"
        )
    elif status in _WRONG_PLACE or 300 <= status < 400:
        advice = f"{_ENDPOINT} is not an OTLP/HTTP logs endpoint (a Collector serves /v1/logs on port 4318)"
    elif status == 415:
        advice = f"the receiver does not take this encoding; try the other {_PROTOCOL}"
    else:
        # The specification: every other answer is permanent, so these records are refused.
        return OtlpOutcome(
            Verdict.REJECT, f"{described} (not retryable per OTLP/HTTP)", status=status, message=message
        )
    return OtlpOutcome(Verdict.CONFIG, f"{described}: {advice}", status=status, message=message)


def _success(status: int, body: bytes, content_type: str | None) -> OtlpOutcome:
    response = parse_response(body, content_type)
    if response is None:
        # The records were accepted (the status says so); an unreadable answer cannot take that back.
        return OtlpOutcome(
            Verdict.DELIVERED, f"HTTP {status} with an unreadable answer: {_snippet(body)}", status=status
        )
    partial = response.partial_success
    return OtlpOutcome(
        Verdict.DELIVERED,
        f"HTTP {status}",
        status=status,
        rejected=partial.rejected_log_records,
        message=partial.error_message,
    )
