"""The fake Collector against the OTLP/HTTP specification, driven by plain httpx requests and the
official messages (not the sink), so that a sink test's green means what the specification means."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from fakes.otlp_collector import FakeCollector, Reset, throttled
from tests.support.otlp_support import API_KEY

pytestmark = pytest.mark.integration

PROTOBUF = {"Content-Type": "application/x-protobuf", "api-key": API_KEY}
JSON = {"Content-Type": "application/json", "api-key": API_KEY}


def export(*bodies: str) -> ExportLogsServiceRequest:
    records = [LogRecord(body=AnyValue(string_value=body)) for body in bodies]
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])


@pytest.fixture
async def fake() -> AsyncIterator[FakeCollector]:
    collector = FakeCollector(required_headers={"api-key": API_KEY})
    async with collector.serve():
        yield collector


async def post(
    fake: FakeCollector, body: bytes, headers: dict[str, str], path: str = "/v1/logs"
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{fake.url}{path}", content=body, headers=headers)


async def test_protobuf_is_answered_in_protobuf(fake: FakeCollector) -> None:
    response = await post(fake, export("a", "b").SerializeToString(), PROTOBUF)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-protobuf"
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    assert [log.body for log in fake.received] == ["a", "b"]


async def test_json_and_gzip_are_understood_and_json_is_answered_in_json(fake: FakeCollector) -> None:
    body = gzip.compress(json_format.MessageToJson(export("c")).encode())
    response = await post(fake, body, {**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    json_format.Parse(response.content, ExportLogsServiceResponse())
    assert [log.body for log in fake.received] == ["c"]


async def test_a_partial_success_says_how_many_not_which(fake: FakeCollector) -> None:
    fake.refuse = lambda record: record.body.string_value == "bad"
    response = await post(fake, export("ok", "bad", "bad").SerializeToString(), PROTOBUF)
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert response.status_code == 200
    assert answer.partial_success.rejected_log_records == 2
    assert answer.partial_success.error_message == fake.refusal_message
    assert [log.body for log in fake.received] == ["ok"]


@pytest.mark.parametrize(
    ("headers", "body", "path", "status"),
    [
        ({"Content-Type": "application/x-protobuf"}, b"", "/v1/logs", 401),
        ({**PROTOBUF, "Content-Type": "text/plain"}, b"x", "/v1/logs", 415),
        (PROTOBUF, b"\xff\xff not protobuf", "/v1/logs", 400),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, b"not gzip", "/v1/logs", 400),
        (PROTOBUF, b"", "/v1/traces", 404),
    ],
    ids=["no-key", "content-type", "not-protobuf", "not-gzip", "path"],
)
async def test_refusals_carry_a_status_message(
    fake: FakeCollector, headers: dict[str, str], body: bytes, path: str, status: int
) -> None:
    response = await post(fake, body, headers, path)
    assert response.status_code == status
    if path == "/v1/logs":
        assert Status.FromString(response.content).message
    assert fake.received == []


async def test_too_large_a_body_is_413() -> None:
    collector = FakeCollector(max_request_body_size=100)
    async with collector.serve():
        response = await post(collector, export("x" * 200).SerializeToString(), PROTOBUF)
    assert response.status_code == 413
    assert collector.received == []


async def test_faults_come_in_order_and_a_reset_after_taking_keeps_the_records(fake: FakeCollector) -> None:
    fake.inject(throttled("3"), Reset(after_taking=True))
    first = await post(fake, export("a").SerializeToString(), PROTOBUF)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    with pytest.raises(httpx.TransportError):
        await post(fake, export("b").SerializeToString(), PROTOBUF)
    assert [log.body for log in fake.received] == ["b"]
