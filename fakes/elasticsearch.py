"""A protocol-faithful stand-in for Elasticsearch (and OpenSearch) `_bulk`, on 127.0.0.1.

It follows the documented behaviour our sink relies on, including the error answers:

* strict NDJSON: the body must end in a newline; action and source lines come in pairs; a
  malformed action line, or an `_id` over 512 bytes, fails the whole request with 400;
* ``create`` answers 409 ``version_conflict_engine_exception`` for an `_id` already there;
  ``index`` into a data stream is refused; a data stream document needs ``@timestamp``;
* a new target becomes a data stream when the highest-priority index template matching it has
  ``data_stream`` (Elasticsearch has a built-in ``logs-*-*`` one, OpenSearch none), else a plain
  index if auto-creation is on, else 404 ``index_not_found_exception``; names follow the rules;
* typed fields (``field_types``) refuse values of the wrong type with 400 parsing errors;
* requests above ``max_content_length`` (after gzip decoding, as Netty aggregates) get 413;
* ApiKey, basic and bearer credentials are checked; `_has_privileges` answers from ``writable``;
* faults on demand: whole-request statuses, connection resets before or after the writes, and
  partial failures (429, 5xx or 400 items) inside an HTTP 200.

Run ``python -m fakes.elasticsearch --port 9200`` to serve it alone (the benchmark does).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import ipaddress
import itertools
import re
import ssl
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiohttp import web

from fakes.serving import serve_app

Flavor = Literal["elasticsearch", "opensearch"]
MAX_ID_BYTES = 512
_FORBIDDEN = set('\\/*?"<>| ,#:')
_NDJSON_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
)


@dataclass(frozen=True)
class WholeFault:
    """Answer the next `_bulk` request with this status and nothing written."""

    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class ResetFault:
    """Close the connection without an answer; ``after_write``: once the writes are applied."""

    after_write: bool = False


@dataclass(frozen=True)
class ItemFault:
    """Fail every ``every``-th item (from ``offset``) of the next request with ``status``."""

    status: int
    every: int = 1
    offset: int = 0


@dataclass(frozen=True)
class DelayFault:
    """Answer the next `_bulk` request normally, but only after ``seconds``: a slow cluster."""

    seconds: float


Fault = WholeFault | ResetFault | ItemFault | DelayFault

_INJECTED_ERRORS: dict[int, tuple[str, str]] = {
    429: (
        "es_rejected_execution_exception",
        "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, "
        "replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=1024, "
        "max_coordinating_and_primary_bytes=104857600]",
    ),
    500: ("illegal_state_exception", "failed to obtain in-memory shard lock"),
    503: ("unavailable_shards_exception", "[{index}][0] primary shard is not active Timeout: [1m]"),
    400: (
        "document_parsing_exception",
        "[1:42] failed to parse field [source.ip] of type [ip] in document with id '{id}'. "
        "Preview of field's value: 'not-an-ip'",
    ),
}


@dataclass
class Target:
    kind: Literal["data_stream", "index"]
    # _id -> the source line exactly as received.
    documents: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkRecord:
    """One `_bulk` request as it arrived: for assertions on the exact bytes on the wire."""

    headers: Mapping[str, str]
    wire: bytes
    body: bytes
    query: Mapping[str, str]


def name_problem(name: str) -> str | None:
    if not name or name != name.lower():
        return "must be lowercase"
    if set(name) & _FORBIDDEN:
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?, #, :]'
    if name[0] in "-_+" or name in {".", ".."}:
        return "must not start with '_', '-', or '+'"
    if len(name.encode()) > 255:
        return "index name is too long, (256 > 255)"
    return None


def _pattern_matches(pattern: str, name: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None


_MISSING = object()


def _filter(value: Any, paths: list[list[str]]) -> Any:
    """Elasticsearch's ``filter_path``: keep what a path names, drop what ends up empty."""
    if any(not path for path in paths):
        return value
    if isinstance(value, list):
        return [kept for kept in (_filter(v, paths) for v in value) if kept is not _MISSING]
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            below = [path[1:] for path in paths if path[0] in (key, "*")]
            if below:
                kept = _filter(child, below)
                if kept is not _MISSING:
                    out[key] = kept
        return out or _MISSING
    return _MISSING


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    """A field by its dotted name, whether the document nests it or spells it with dots."""
    if dotted in document:
        return document[dotted]
    head, _, rest = dotted.partition(".")
    child = document.get(head, _MISSING)
    if rest and isinstance(child, Mapping):
        return _lookup(child, rest)
    return child if not rest else _MISSING


def _type_problem(kind: str, value: Any) -> str | None:
    if kind == "ip":
        try:
            ipaddress.ip_address(str(value))
        except ValueError:
            return f"'{value}' is not an IP string literal."
    elif kind == "long":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or not str(value).lstrip("-").isdigit()
        ):
            return f'For input string: "{value}"'
    elif kind == "date":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return (
                f"failed to parse date field [{value}] with format [strict_date_optional_time||epoch_millis]"
            )
    return None


class FakeElasticsearch:
    def __init__(
        self,
        *,
        flavor: Flavor = "elasticsearch",
        api_keys: Iterable[tuple[str, str]] = (),
        users: Mapping[str, str] | None = None,
        bearer_tokens: Iterable[str] = (),
        writable: Iterable[str] | None = None,
        may_manage_templates: bool = True,
        max_content_length: int = 100 * 1024 * 1024,
        auto_create_index: bool = True,
        field_types: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
        record_requests: bool = True,
        keep_sources: bool = True,
    ) -> None:
        self.flavor = flavor
        self.api_keys = dict(api_keys)
        self.users = dict(users or {})
        self.bearer_tokens = set(bearer_tokens)
        self.writable = None if writable is None else set(writable)
        self.may_manage_templates = may_manage_templates
        self.max_content_length = max_content_length
        self.auto_create_index = auto_create_index
        self.field_types = dict(field_types or {})
        self.ssl_context = ssl_context
        self.targets: dict[str, Target] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        if flavor == "elasticsearch":
            self.templates["logs"] = {"index_patterns": ["logs-*-*"], "priority": 100, "data_stream": {}}
        self.requests: list[BulkRecord] = []
        # The benchmark turns this off: it would keep every body of a long run in memory.
        self.record_requests = record_requests
        self.keep_sources = keep_sources
        self.faults: deque[Fault] = deque()
        self._port = port
        self._runner: web.AppRunner | None = None
        self._sequence = itertools.count()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    async def start(self) -> FakeElasticsearch:
        app = web.Application(client_max_size=self.max_content_length * 4 + 1024)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        # The wire bytes are kept as sent, and decoded here the way Elasticsearch does.
        self._runner, self._port = await serve_app(
            app, port=self._port, ssl_context=self.ssl_context, auto_decompress=False
        )
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeElasticsearch:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what a test asks --------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def documents(self, name: str) -> dict[str, dict[str, Any]]:
        target = self.targets.get(name)
        if target is None:
            return {}
        return {doc_id: orjson.loads(raw) for doc_id, raw in target.documents.items()}

    def document_ids(self) -> list[str]:
        """Every stored `_id`, once per copy: duplicates across targets would show twice."""
        return [doc_id for target in self.targets.values() for doc_id in target.documents]

    # -- HTTP --------------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        response = web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
        if self.flavor == "elasticsearch":
            response.headers["X-Elastic-Product"] = "Elasticsearch"
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _error(self, status: int, error_type: str, reason: str, **extra: str) -> web.Response:
        error = {"root_cause": [{"type": error_type, "reason": reason}], "type": error_type, "reason": reason}
        return self._json(status, {"error": error, "status": status}, extra or None)

    def _principal(self, request: web.Request) -> str | None:
        """Who is calling; None when the credentials are wrong. Security is off with none configured."""
        if not (self.api_keys or self.users or self.bearer_tokens):
            return "anonymous"
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme == "ApiKey":
                key_id, _, key = base64.b64decode(value, validate=True).decode().partition(":")
                return f"api_key:{key_id}" if self.api_keys.get(key_id) == key else None
            if scheme == "Basic":
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
                return f"user:{user}" if self.users.get(user) == password else None
        except (ValueError, UnicodeDecodeError):
            return None
        if scheme == "Bearer":
            return "token" if value in self.bearer_tokens else None
        return None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if self._principal(request) is None:
            reason = (
                f"missing authentication credentials for REST request [{request.path}]"
                if "Authorization" not in request.headers
                else f"unable to authenticate with provided credentials for REST request [{request.path}]"
            )
            return self._error(
                401, "security_exception", reason, **{"WWW-Authenticate": 'ApiKey, Basic realm="security"'}
            )
        parts = [part for part in request.path.split("/") if part]
        method = request.method
        if parts == [] and method in ("GET", "HEAD"):
            return self._root()
        if parts and parts[-1] == "_bulk" and len(parts) <= 2 and method in ("POST", "PUT"):
            return await self._bulk(request, parts[0] if len(parts) == 2 else None)
        if parts[:1] == ["_index_template"]:
            return await self._index_template(request, parts[1] if len(parts) > 1 else None)
        if parts[:1] == ["_data_stream"] and len(parts) == 2 and method == "GET":
            return self._data_stream(parts[1])
        if parts == ["_security", "user", "_has_privileges"] and self.flavor == "elasticsearch":
            return await self._has_privileges(request)
        if len(parts) == 2 and parts[1] == "_count" and method in ("GET", "POST"):
            found = self.targets.get(parts[0])
            if found is None:
                return self._error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            return self._json(200, {"count": len(found.documents)})
        if len(parts) == 1 and method == "HEAD" and not parts[0].startswith("_"):
            return web.Response(status=200 if parts[0] in self.targets else 404)
        return self._json(400, {"error": f"no handler found for uri [{request.path}] and method [{method}]"})

    def _root(self) -> web.Response:
        if self.flavor == "opensearch":
            version = {"distribution": "opensearch", "number": "2.17.0"}
            return self._json(200, {"name": "fake", "version": version, "tagline": "The OpenSearch Project"})
        version = {"number": "9.1.0", "build_flavor": "default"}
        return self._json(200, {"name": "fake", "version": version, "tagline": "You Know, for Search"})

    def _data_stream(self, name: str) -> web.Response:
        target = self.targets.get(name)
        if target is None or target.kind != "data_stream":
            return self._error(404, "index_not_found_exception", f"no such index [{name}]")
        return self._json(200, {"data_streams": [{"name": name, "timestamp_field": {"name": "@timestamp"}}]})

    async def _index_template(self, request: web.Request, name: str | None) -> web.Response:
        if not self.may_manage_templates:
            return self._error(
                403, "security_exception", "action [indices:admin/index_template/get] is unauthorized"
            )
        if request.method == "GET":
            chosen = (
                self.templates
                if name is None
                else {name: self.templates[name]}
                if name in self.templates
                else None
            )
            if chosen is None:
                return self._error(
                    404, "resource_not_found_exception", f"index template matching [{name}] not found"
                )
            listing = [{"name": key, "index_template": value} for key, value in chosen.items()]
            return self._json(200, {"index_templates": listing})
        if request.method == "PUT" and name is not None:
            body = await request.json()
            if request.query.get("create") == "true" and name in self.templates:
                return self._error(
                    400, "illegal_argument_exception", f"index template [{name}] already exists"
                )
            for other, template in self.templates.items():
                same_priority = template.get("priority", 0) == body.get("priority", 0)
                overlap = set(template["index_patterns"]) & set(body["index_patterns"])
                if other != name and same_priority and overlap:
                    return self._error(
                        400, "illegal_argument_exception", f"index template [{name}] overlaps [{other}]"
                    )
            self.templates[name] = body
            return self._json(200, {"acknowledged": True})
        return self._json(405, {"error": "Incorrect HTTP method"})

    async def _has_privileges(self, request: web.Request) -> web.Response:
        query = await request.json()
        index: dict[str, dict[str, bool]] = {}
        for entry in query.get("index", []):
            for name in entry["names"]:
                allowed = self.writable is None or name in self.writable
                index[name] = dict.fromkeys(entry["privileges"], allowed)
        cluster = dict.fromkeys(query.get("cluster", []), self.may_manage_templates)
        everything = all(all(v.values()) for v in index.values()) and all(cluster.values())
        answer = {
            "username": self._principal(request),
            "has_all_requested": everything,
            "cluster": cluster,
            "index": index,
        }
        return self._json(200, answer)

    # -- _bulk -------------------------------------------------------------------------------

    async def _bulk(self, request: web.Request, default_index: str | None) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in _NDJSON_TYPES:
            return self._error(
                406, "media_type_header_exception", f"Content-Type header [{content_type}] is not supported"
            )
        wire = await request.read()
        body = wire
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(wire)
            except (OSError, EOFError, zlib.error):
                return self._error(400, "parse_exception", "request body is not valid gzip")
        if self.record_requests:
            self.requests.append(BulkRecord(dict(request.headers), wire, body, dict(request.query)))
        if len(body) > self.max_content_length:
            return web.Response(status=413)
        fault = self.faults.popleft() if self.faults else None
        if isinstance(fault, DelayFault):
            await asyncio.sleep(fault.seconds)
        if isinstance(fault, WholeFault):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            error_type = "es_rejected_execution_exception" if fault.status == 429 else "cluster_unavailable"
            refused = self._error(fault.status, error_type, f"injected {fault.status}")
            refused.headers.update(headers or {})
            return refused
        if isinstance(fault, ResetFault) and not fault.after_write:
            return self._reset(request)
        parsed = self._parse(body, default_index)
        if isinstance(parsed, web.Response):
            return parsed
        items = []
        for position, (action, meta, source) in enumerate(parsed):
            if (
                isinstance(fault, ItemFault)
                and position >= fault.offset
                and (position - fault.offset) % fault.every == 0
            ):
                items.append(self._injected_item(action, meta, fault.status))
            else:
                items.append(self._apply(action, meta, source))
        if isinstance(fault, ResetFault):
            return self._reset(request)
        answer: Any = {
            "took": 3,
            "errors": any("error" in next(iter(i.values())) for i in items),
            "items": items,
        }
        filter_path = request.query.get("filter_path")
        if filter_path:
            answer = _filter(answer, [path.split(".") for path in filter_path.split(",")])
            answer = {} if answer is _MISSING else answer
        return self._json(200, answer)

    def _reset(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        transport.abort()
        return web.Response(status=500)

    def _parse(
        self, body: bytes, default_index: str | None
    ) -> list[tuple[str, dict[str, Any], bytes | None]] | web.Response:
        if not body:
            return self._error(400, "parse_exception", "request body is required")
        if not body.endswith(b"\n"):
            return self._error(
                400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"
            )
        lines = [line[:-1] if line.endswith(b"\r") else line for line in body[:-1].split(b"\n")]
        operations: list[tuple[str, dict[str, Any], bytes | None]] = []
        problems: list[str] = []
        number = 0
        while number < len(lines):
            line = lines[number]
            number += 1
            if not line.strip():
                continue
            try:
                action_line = orjson.loads(line)
            except orjson.JSONDecodeError:
                return self._error(
                    400,
                    "x_content_parse_exception",
                    f"[{number}:1] Malformed action/metadata line [{number}]",
                )
            if not isinstance(action_line, dict) or len(action_line) != 1:
                return self._error(
                    400,
                    "illegal_argument_exception",
                    f"Malformed action/metadata line [{number}], expected a simple value for field [_index] "
                    "but found [START_OBJECT]",
                )
            action, meta = next(iter(action_line.items()))
            if action not in ("index", "create", "delete") or not isinstance(meta, dict):
                return self._error(
                    400,
                    "illegal_argument_exception",
                    f"Malformed action/metadata line [{number}], expected field [create], [delete], [index] "
                    f"or [update] but found [{action}]",
                )
            meta = dict(meta)
            meta.setdefault("_index", default_index)
            if not meta["_index"]:
                problems.append("index is missing")
            doc_id = meta.get("_id")
            if isinstance(doc_id, str) and len(doc_id.encode()) > MAX_ID_BYTES:
                problems.append(
                    f"id [{doc_id}] is too long, must be no longer than 512 bytes "
                    f"but was: {len(doc_id.encode())}"
                )
            source: bytes | None = None
            if action != "delete":
                if number >= len(lines):
                    return self._error(
                        400,
                        "illegal_argument_exception",
                        "The bulk request must be terminated by a newline [\\n]",
                    )
                source = lines[number]
                number += 1
            operations.append((action, meta, source))
        if problems:
            reason = "Validation Failed: " + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
            return self._error(400, "action_request_validation_exception", reason)
        return operations

    def _injected_item(self, action: str, meta: Mapping[str, Any], status: int) -> dict[str, Any]:
        error_type, reason = _INJECTED_ERRORS.get(status, ("exception", f"injected {status}"))
        reason = reason.format(index=meta["_index"], id=meta.get("_id"))
        return {
            action: {
                "_index": meta["_index"],
                "_id": meta.get("_id"),
                "status": status,
                "error": {"type": error_type, "reason": reason},
            }
        }

    def _item_error(
        self, action: str, meta: Mapping[str, Any], status: int, error: dict[str, Any]
    ) -> dict[str, Any]:
        return {action: {"_index": meta["_index"], "_id": meta.get("_id"), "status": status, "error": error}}

    def _resolve(self, action: str, meta: Mapping[str, Any]) -> Target | dict[str, Any]:
        """The target of an operation, created on first use as Elasticsearch would, or the item error."""
        name: str = meta["_index"]
        problem = name_problem(name)
        if problem:
            return self._item_error(
                action,
                meta,
                400,
                {"type": "invalid_index_name_exception", "reason": f"Invalid index name [{name}], {problem}"},
            )
        if self.writable is not None and name not in self.writable:
            reason = (
                f"action [indices:data/write/bulk[s]] is unauthorized for user on indices [{name}], "
                "this action is granted by the index privileges [create_doc,create,index,write,all]"
            )
            return self._item_error(action, meta, 403, {"type": "security_exception", "reason": reason})
        target = self.targets.get(name)
        if target is None:
            matching = [
                t
                for t in self.templates.values()
                if any(_pattern_matches(p, name) for p in t["index_patterns"])
            ]
            winner = max(matching, key=lambda t: t.get("priority", 0), default=None)
            if winner is not None and "data_stream" in winner:
                target = Target("data_stream")
            elif self.auto_create_index:
                target = Target("index")
            else:
                reason = f"no such index [{name}] and [action.auto_create_index] is [false]"
                return self._item_error(
                    action, meta, 404, {"type": "index_not_found_exception", "reason": reason, "index": name}
                )
        if target.kind == "data_stream" and action != "create":
            reason = "only write ops with an op_type of create are allowed in data streams"
            return self._item_error(
                action, meta, 400, {"type": "illegal_argument_exception", "reason": reason}
            )
        self.targets.setdefault(name, target)
        return target

    def _apply(self, action: str, meta: dict[str, Any], source: bytes | None) -> dict[str, Any]:
        target = self._resolve(action, meta)
        if isinstance(target, dict):
            return target
        name = meta["_index"]
        doc_id = (
            meta.get("_id") or base64.urlsafe_b64encode(next(self._sequence).to_bytes(15, "big")).decode()
        )
        meta = {**meta, "_id": doc_id}
        if action == "delete":
            found = target.documents.pop(doc_id, None) is not None
            return {
                action: {
                    "_index": name,
                    "_id": doc_id,
                    "status": 200 if found else 404,
                    "result": "deleted" if found else "not_found",
                }
            }
        assert source is not None
        parse_type = (
            "document_parsing_exception" if self.flavor == "elasticsearch" else "mapper_parsing_exception"
        )
        try:
            document = orjson.loads(source)
        except orjson.JSONDecodeError as error:
            return self._item_error(
                action, meta, 400, {"type": parse_type, "reason": f"[1:{error.pos + 1}] failed to parse"}
            )
        if not isinstance(document, dict):
            return self._item_error(
                action, meta, 400, {"type": parse_type, "reason": "failed to parse, document is empty"}
            )
        if target.kind == "data_stream" and _lookup(document, "@timestamp") is _MISSING:
            cause = {
                "type": "illegal_argument_exception",
                "reason": "data stream timestamp field [@timestamp] is missing",
            }
            return self._item_error(
                action, meta, 400, {"type": parse_type, "reason": "[1:2] failed to parse", "caused_by": cause}
            )
        for dotted, kind in self.field_types.items():
            value = _lookup(document, dotted)
            problem = None if value is _MISSING or value is None else _type_problem(kind, value)
            if problem:
                reason = (
                    f"[1:2] failed to parse field [{dotted}] of type [{kind}] in document with id "
                    f"'{doc_id}'. Preview of field's value: '{value}'"
                )
                cause = {"type": "illegal_argument_exception", "reason": problem}
                return self._item_error(
                    action, meta, 400, {"type": parse_type, "reason": reason, "caused_by": cause}
                )
        existed = doc_id in target.documents
        backing = f".ds-{name}-{datetime.now(UTC):%Y.%m.%d}-000001" if target.kind == "data_stream" else name
        if action == "create" and existed:
            reason = f"[{doc_id}]: version conflict, document already exists (current version [1])"
            conflict = {
                "type": "version_conflict_engine_exception",
                "reason": reason,
                "index_uuid": "fake",
                "shard": "0",
                "index": backing,
            }
            return self._item_error(action, {**meta, "_index": backing}, 409, conflict)
        target.documents[doc_id] = source if self.keep_sources else b""
        result = "updated" if existed else "created"
        shards = {"total": 1, "successful": 1, "failed": 0}
        return {
            action: {
                "_index": backing,
                "_id": doc_id,
                "_version": 1,
                "result": result,
                "_shards": shards,
                "_seq_no": next(self._sequence),
                "_primary_term": 1,
                "status": 200 if existed else 201,
            }
        }


async def _serve(port: int) -> None:
    # A long benchmark run would otherwise keep every body it was sent.
    async with FakeElasticsearch(port=port, record_requests=False, keep_sources=False) as fake:
        print(f"fake Elasticsearch on {fake.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    asyncio.run(_serve(parser.parse_args().port))
