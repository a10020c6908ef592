"""A fake Azure Monitor Logs Ingestion API on 127.0.0.1, faithful to what Microsoft documents, with faults.

What it does the way the service does (Learn "Logs Ingestion API in Azure Monitor", "Azure Monitor service
limits", "Sample code to send data to Azure Monitor using Logs ingestion API"; REST spec
``specification/monitor/data-plane/ingestion/stable/2023-01-01``):

* ``POST /dataCollectionRules/{immutable id}/streams/{stream}?api-version=2023-01-01`` (the stable version),
  ``Authorization: Bearer``, a UTF-8 JSON array body, ``Content-Encoding: gzip`` optional; 204 on success.
* The token must be for ``https://monitor.azure.com`` (a token for another resource is 401
  ``InvalidAudience``, as Microsoft's docs report) and unexpired (401); the principal (``oid``) needs the
  Monitoring Metrics Publisher role on the DCR, else 403 ``OperationFailed`` with the message the SDK
  troubleshooting guides quote.
* At most 1 MB per call "both compressed and uncompressed": 413 when the bytes on the wire or the
  decompressed body exceed ``max_request_bytes`` (1 MiB, the chunk size Microsoft's SDKs split at).
* An unknown DCR or stream is 404; a body that is not a JSON array of objects is 400.
* Columns are the stream declaration's. A column the declaration does not name is dropped (counted in
  ``dropped_columns``), as a DCR does. A value of the wrong type: the service documents a 400 only for
  nested JSON in Auxiliary tables and otherwise stores what it can, so with ``strict_types`` (default) the
  fake answers 400 ``InvalidColumnType`` naming the column, to make a mapping bug fail a test instead of
  leaving an empty cell; with ``strict_types=False`` the value is dropped and counted in ``dropped_values``.

Errors use Azure Core's ``{"error": {"code", "message"}}`` and ``x-ms-error-code`` (the REST spec). Only
``OperationFailed`` (403) and ``InvalidAudience`` (401) are codes Microsoft has shown; the others are this
fake's names, so a client should decide by status. Faults, queued per ingestion request with
:meth:`FakeAzureMonitor.inject`: any canned answer (429 or 503 with ``Retry-After``, 500, 413), a reset
before or after the rows were accepted, a slow answer.
"""

from __future__ import annotations

import gzip
import json
import ssl
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from fakes import azure_faults
from fakes.azure_faults import (
    CannedAnswer,
    Fault,
    Normal,
    Reset,
    Slow,
    azure_error,
    internal_error,
    throttled,
    unavailable,
)
from fakes.entra_id import MONITOR_AUDIENCE, InvalidToken, TokenKey

__all__ = [
    "API_VERSION",
    "CannedAnswer",
    "DataCollectionRule",
    "FakeAzureMonitor",
    "Fault",
    "Normal",
    "ReceivedRequest",
    "Reset",
    "Slow",
    "internal_error",
    "throttled",
    "too_large",
    "unavailable",
]

API_VERSION = "2023-01-01"
ONE_MEGABYTE = 1024 * 1024

_COLUMN_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "long": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "real": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "dynamic": lambda value: True,
    "datetime": lambda value: isinstance(value, str) and _is_datetime(value),
}


@dataclass(frozen=True)
class DataCollectionRule:
    immutable_id: str
    # Stream name -> column name -> stream column type (string, int, long, real, boolean, datetime, dynamic).
    streams: Mapping[str, Mapping[str, str]]
    # Object ids of the principals holding Monitoring Metrics Publisher on this rule.
    publishers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReceivedRequest:
    number: int
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    # As on the wire, and after gzip decoding.
    raw_body: bytes
    body: bytes
    received_at: float


def too_large() -> CannedAnswer:
    return azure_error(413, "ContentLengthLimitExceeded", "The request is larger than 1 MB.")


class _Refusal(Exception):
    def __init__(self, answer: CannedAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


@dataclass
class FakeAzureMonitor:
    rules: Iterable[DataCollectionRule]
    key: TokenKey
    audience: str = MONITOR_AUDIENCE
    max_request_bytes: int = ONE_MEGABYTE
    strict_types: bool = True
    clock: Callable[[], float] = time.time
    # Stream name -> the rows accepted, in order (a row accepted twice is here twice).
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    dropped_columns: Counter[str] = field(default_factory=Counter)
    dropped_values: Counter[str] = field(default_factory=Counter)
    url: str = ""

    def __post_init__(self) -> None:
        self._rules = {rule.immutable_id: rule for rule in self.rules}

    def inject(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next ingestion requests."""
        self.faults.extend(faults)

    def accepted_count(self, stream: str | None = None) -> int:
        return sum(len(rows) for name, rows in self.accepted.items() if stream in (None, name))

    def app(self) -> web.Application:
        # Bodies larger than the limit must reach the handler to be answered 413, as the service does.
        app = web.Application(client_max_size=64 * self.max_request_bytes)
        app.router.add_post("/dataCollectionRules/{rule}/streams/{stream}", self._ingest)
        return app

    @asynccontextmanager
    async def serve(self, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[FakeAzureMonitor]:
        async with azure_faults.serve(self.app(), ssl_context) as url:
            self.url = url
            yield self

    async def _ingest(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        fault = self.faults.pop(0) if self.faults else None
        early = await azure_faults.apply_before(fault, request)
        if early is not None:
            self._record(request, raw, raw)
            return early
        try:
            stream, rows = self._admit(request, raw)
        except _Refusal as refusal:
            return azure_faults.answer(refusal.answer)
        self.accepted.setdefault(stream, []).extend(rows)
        if isinstance(fault, Reset):
            return azure_faults.reset(request)
        return web.Response(status=204)

    def _admit(self, request: web.Request, raw: bytes) -> tuple[str, list[dict[str, Any]]]:
        """The stream and the rows as stored, or a :class:`_Refusal` with the service's answer."""
        body = self._decode(request, raw)
        self._record(request, raw, body)
        if request.query.get("api-version") != API_VERSION:
            raise _Refusal(
                azure_error(
                    400,
                    "InvalidApiVersion",
                    f"The api-version "
                    f"'{request.query.get('api-version', '')}' is not supported; use {API_VERSION}.",
                )
            )
        claims = self._claims(request)
        rule = self._rules.get(request.match_info["rule"])
        if rule is None:
            raise _Refusal(
                azure_error(
                    404,
                    "NotFound",
                    f"Data collection rule with immutable Id '{request.match_info['rule']}' not found.",
                )
            )
        if claims.get("oid") not in rule.publishers:
            raise _Refusal(
                azure_error(
                    403,
                    "OperationFailed",
                    "The authentication token provided does not "
                    "have access to ingest data for the data collection rule with immutable "
                    f"Id '{rule.immutable_id}'.",
                )
            )
        stream = request.match_info["stream"]
        columns = rule.streams.get(stream)
        if columns is None:
            raise _Refusal(
                azure_error(
                    404,
                    "InvalidStream",
                    f"Stream '{stream}' is not declared in data collection rule '{rule.immutable_id}'.",
                )
            )
        if max(len(raw), len(body)) > self.max_request_bytes:
            raise _Refusal(too_large())
        return stream, [self._stored(row, columns) for row in _rows(body)]

    def _decode(self, request: web.Request, raw: bytes) -> bytes:
        if request.headers.get("Content-Encoding", "").lower() != "gzip":
            return raw
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise _Refusal(azure_error(400, "InvalidContentEncoding", "The body is not gzip.")) from None

    def _record(self, request: web.Request, raw: bytes, body: bytes) -> None:
        self.requests.append(
            ReceivedRequest(
                len(self.requests),
                request.path,
                dict(request.query),
                dict(request.headers),
                raw,
                body,
                self.clock(),
            )
        )

    def _claims(self, request: web.Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme != "Bearer" or not token:
                raise InvalidToken("no bearer token")
            claims = self.key.read(token)
        except InvalidToken:
            raise _Refusal(_unauthorized("InvalidToken", "The access token is missing or invalid.")) from None
        if claims.get("aud") != self.audience:
            raise _Refusal(
                _unauthorized(
                    "InvalidAudience",
                    f"The access token is for '{claims.get('aud')}', not '{self.audience}'.",
                )
            )
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.clock():
            raise _Refusal(_unauthorized("TokenExpired", "The access token has expired."))
        return claims

    def _stored(self, row: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        for name, value in row.items():
            kind = columns.get(name)
            if kind is None:
                self.dropped_columns[name] += 1
            elif value is None or _COLUMN_CHECKS[kind](value):
                stored[name] = value
            elif self.strict_types:
                raise _Refusal(
                    azure_error(
                        400,
                        "InvalidColumnType",
                        f"The value of column '{name}' is not of type {kind}: {json.dumps(value)[:100]}.",
                    )
                )
            else:
                self.dropped_values[name] += 1
        return stored


def _rows(body: bytes) -> list[dict[str, Any]]:
    try:
        rows = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Refusal(azure_error(400, "InvalidPayload", "The body is not valid UTF-8 JSON.")) from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise _Refusal(azure_error(400, "InvalidPayload", "The body must be a JSON array of objects."))
    return rows


def _unauthorized(code: str, message: str) -> CannedAnswer:
    answer = azure_error(401, code, message)
    return CannedAnswer(
        401, answer.body, {**answer.headers, "WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
