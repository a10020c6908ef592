"""A protocol-faithful OpenTelemetry Collector OTLP/HTTP logs receiver on 127.0.0.1, with faults.

What it does the way the specification ("OTLP/HTTP") and the Collector's OTLP receiver do, decoding
with the official ``opentelemetry-proto`` messages (never the product's encoder):

* ``POST /v1/logs`` only: another path is 404, another method 405.
* ``Content-Type: application/x-protobuf`` (binary ``ExportLogsServiceRequest``) or
  ``application/json`` (OTLP/JSON); anything else is 415. ``Content-Encoding: gzip`` is decoded.
  A body that does not decode is 400. Every failure answer is a ``google.rpc.Status`` in the
  request's encoding.
* Headers a test requires (an API key, ``Authorization``) missing or wrong: 401.
* A body larger than ``max_request_body_size`` (on the wire) is 413.
* Success is 200 with an ``ExportLogsServiceResponse`` in the request's encoding. Records the test's
  ``refuse`` predicate picks are not kept, and the answer is a partial success naming how many
  (``rejected_log_records``) and why, but not which, as the specification has it.

Faults (``fakes.http_faults``), queued per request with :meth:`FakeCollector.inject`: canned answers
(:func:`unavailable`, :func:`throttled` with ``Retry-After``, any ``google.rpc.Status``, a proxy's
page, 413), resets before or after the records were kept, slow answers.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from fakes.http_faults import (
    CannedAnswer,
    Fault,
    FaultQueue,
    Normal,
    Reset,
    Slow,
    canned,
    proxy_answer,
    reset,
    too_large,
)
from fakes.serving import serve_app

__all__ = [
    "CannedAnswer",
    "FakeCollector",
    "Fault",
    "Normal",
    "ReceivedLog",
    "ReceivedRequest",
    "Reset",
    "Slow",
    "plain",
    "proxy_answer",
    "status_answer",
    "throttled",
    "too_large",
    "unavailable",
]

LOGS_PATH = "/v1/logs"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# The Collector's confighttp default for max_request_body_size: 20 MiB.
DEFAULT_MAX_BODY = 20 * 1024 * 1024


def plain(value: AnyValue) -> Any:
    """An AnyValue as plain Python: kvlists as dicts, arrays as lists, an empty value as None."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "array_value":
        return [plain(item) for item in value.array_value.values]
    return getattr(value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pair: KeyValue
    for pair in pairs:
        found[pair.key] = plain(pair.value)
    return found


@dataclass(frozen=True)
class ReceivedLog:
    """One LogRecord as the Collector would pass it on, with its Resource's attributes and scope."""

    record: LogRecord
    resource: Mapping[str, Any]
    scope_name: str
    request_number: int

    @property
    def body(self) -> Any:
        return plain(self.record.body)

    @property
    def attributes(self) -> dict[str, Any]:
        return attributes(self.record.attributes)

    @property
    def uid(self) -> str:
        return str(self.attributes.get("log.record.uid"))


@dataclass(frozen=True)
class ReceivedRequest:
    number: int
    path: str
    headers: Mapping[str, str]
    # As on the wire, and after gzip decoding.
    raw_body: bytes
    body: bytes
    records: int = 0


def status_answer(http_status: int, message: str, retry_after: str | None = None) -> CannedAnswer:
    """A failure answer of the receiver itself: a protobuf ``google.rpc.Status``."""
    headers = {"Content-Type": PROTOBUF}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return CannedAnswer(http_status, Status(code=14, message=message).SerializeToString(), headers)


def unavailable(retry_after: str | None = None) -> CannedAnswer:
    """The Collector's answer when its pipeline refuses data (memory limiter, full queue)."""
    return status_answer(503, "data refused due to high memory usage", retry_after)


def throttled(retry_after: str = "1") -> CannedAnswer:
    return status_answer(429, "too many requests", retry_after)


class FakeCollector:
    def __init__(
        self, required_headers: Mapping[str, str] | None = None, max_request_body_size: int = DEFAULT_MAX_BODY
    ) -> None:
        self.required_headers = dict(required_headers or {})
        self.max_request_body_size = max_request_body_size
        self.received: list[ReceivedLog] = []
        self.requests: list[ReceivedRequest] = []
        self.faults = FaultQueue()
        # Records the receiver refuses (a partial success): chosen by the test.
        self.refuse: Callable[[LogRecord], bool] = lambda record: False
        self.refusal_message = "log records refused by the exporter"
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._port = 0

    # --- what tests look at -------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next requests."""
        self.faults.add(*faults)

    def uids(self) -> Counter[str]:
        return Counter(log.uid for log in self.received)

    @property
    def endpoint(self) -> str:
        return f"{self.url}{LOGS_PATH}"

    # --- serving ------------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a free port of 127.0.0.1 (the same one again after :meth:`close`); returns the URL."""
        app = web.Application(client_max_size=self.max_request_body_size * 4)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner, self._port = await serve_app(
            app, port=self._port, auto_decompress=False, shutdown_timeout=0.1
        )
        self.url = f"http://127.0.0.1:{self._port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[FakeCollector]:
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    # --- the receiver -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path != LOGS_PATH:
            return web.Response(status=404, text="404 page not found")
        if request.method != "POST":
            return web.Response(status=405, text="405 method not allowed")
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = _decompressed(raw) if request.headers.get("Content-Encoding", "").lower() == "gzip" else raw
        export = _decode(body, content_type) if body is not None else None
        number = len(self.requests)
        records = (
            sum(len(scope.log_records) for rl in export.resource_logs for scope in rl.scope_logs)
            if export
            else 0
        )
        self.requests.append(
            ReceivedRequest(number, request.path, dict(request.headers), raw, body or b"", records)
        )
        await asyncio.sleep(0)
        fault = self.faults.next_for(records)
        if isinstance(fault, CannedAnswer):
            return canned(fault)
        if isinstance(fault, Reset) and not fault.after_taking:
            return await reset(request)
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.seconds)
        encoding = JSON if content_type == JSON else PROTOBUF
        refusal = self._refusal(request, raw, content_type, body, export)
        if refusal is not None:
            return _answer(refusal[0], Status(code=refusal[1], message=refusal[2]), encoding)
        assert export is not None
        rejected = self._take(export, number)
        if isinstance(fault, Reset):
            return await reset(request)
        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(rejected_log_records=rejected, error_message=self.refusal_message)
            )
        return _answer(200, response, encoding)

    def _refusal(
        self,
        request: web.Request,
        raw: bytes,
        content_type: str,
        body: bytes | None,
        export: ExportLogsServiceRequest | None,
    ) -> tuple[int, int, str] | None:
        """(HTTP status, gRPC code, message) of a refused request, in the order the receiver checks."""
        if len(raw) > self.max_request_body_size:
            return 413, 8, f"request body too large ({len(raw)} > {self.max_request_body_size} bytes)"
        for name, value in self.required_headers.items():
            if request.headers.get(name) != value:
                return 401, 16, f"missing or invalid {name} header"
        if content_type not in (PROTOBUF, JSON):
            return 415, 3, f"unsupported content type {content_type!r}"
        if body is None:
            return 400, 3, "request body is not valid gzip"
        if export is None:
            return 400, 3, "request body is not an ExportLogsServiceRequest"
        return None

    def _take(self, export: ExportLogsServiceRequest, number: int) -> int:
        rejected = 0
        for resource_logs in export.resource_logs:
            resource = attributes(resource_logs.resource.attributes)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    if self.refuse(record):
                        rejected += 1
                        continue
                    self.received.append(ReceivedLog(record, resource, scope_logs.scope.name, number))
        return rejected


def _record_count(export: ExportLogsServiceRequest | None) -> int:
    if export is None:
        return 0
    return sum(len(scope.log_records) for logs in export.resource_logs for scope in logs.scope_logs)


def _decompressed(raw: bytes) -> bytes | None:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return None


def _decode(body: bytes, content_type: str) -> ExportLogsServiceRequest | None:
    export = ExportLogsServiceRequest()
    try:
        if content_type == JSON:
            json_format.Parse(body, export)
        else:
            export.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError):
        return None
    return export


def _answer(status: int, message: Message, encoding: str) -> web.Response:
    if encoding == JSON:
        return web.Response(status=status, text=json_format.MessageToJson(message), content_type=JSON)
    return web.Response(status=status, body=message.SerializeToString(), content_type=PROTOBUF)
