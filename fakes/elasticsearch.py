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

This module is the HTTP server (credentials, routes, templates, privileges, faults);
:mod:`fakes.elasticsearch_bulk` holds the `_bulk` protocol (parsing, names, items, the faults) and
:mod:`fakes.elasticsearch_indices` what the cluster stores and the rules of a write.

Run ``python -m fakes.elasticsearch --port 9200`` to serve it alone (the benchmark does).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import ssl
import zlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from fakes.elasticsearch_bulk import (
    MAX_ID_BYTES,
    MISSING,
    DelayFault,
    Fault,
    ItemFault,
    Refusal,
    ResetFault,
    WholeFault,
    apply_filter_path,
    injected_item,
    name_problem,
    parse_bulk,
)
from fakes.elasticsearch_indices import Flavor, Indices, Target

__all__ = [
    "MAX_ID_BYTES",
    "BulkRecord",
    "DelayFault",
    "FakeElasticsearch",
    "Fault",
    "ItemFault",
    "ResetFault",
    "Target",
    "WholeFault",
    "name_problem",
]

_NDJSON_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
)


@dataclass(frozen=True)
class BulkRecord:
    """One `_bulk` request as it arrived: for assertions on the exact bytes on the wire."""

    headers: Mapping[str, str]
    wire: bytes
    body: bytes
    query: Mapping[str, str]


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
        self.may_manage_templates = may_manage_templates
        self.max_content_length = max_content_length
        self.ssl_context = ssl_context
        self.indices = Indices(
            flavor=flavor,
            writable=writable,
            auto_create_index=auto_create_index,
            field_types=field_types,
            keep_sources=keep_sources,
        )
        self.requests: list[BulkRecord] = []
        # The benchmark turns this off: it would keep every body of a long run in memory.
        self.record_requests = record_requests
        self.faults: deque[Fault] = deque()
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def targets(self) -> dict[str, Target]:
        return self.indices.targets

    @property
    def templates(self) -> dict[str, dict[str, Any]]:
        return self.indices.templates

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    async def start(self) -> FakeElasticsearch:
        app = web.Application(client_max_size=self.max_content_length * 4 + 1024)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        # The wire bytes are kept as sent, and decoded here the way Elasticsearch does.
        self._runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
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
                allowed = self.indices.writable is None or name in self.indices.writable
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
        parsed = parse_bulk(body, default_index)
        if isinstance(parsed, Refusal):
            return self._error(parsed.status, parsed.error_type, parsed.reason)
        items = []
        for position, (action, meta, source) in enumerate(parsed):
            if (
                isinstance(fault, ItemFault)
                and position >= fault.offset
                and (position - fault.offset) % fault.every == 0
            ):
                items.append(injected_item(action, meta, fault.status))
            else:
                items.append(self.indices.apply(action, meta, source))
        if isinstance(fault, ResetFault):
            return self._reset(request)
        answer: Any = {
            "took": 3,
            "errors": any("error" in next(iter(i.values())) for i in items),
            "items": items,
        }
        filter_path = request.query.get("filter_path")
        if filter_path:
            answer = apply_filter_path(answer, [path.split(".") for path in filter_path.split(",")])
            answer = {} if answer is MISSING else answer
        return self._json(200, answer)

    def _reset(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        transport.abort()
        return web.Response(status=500)


async def _serve(port: int) -> None:
    # A long benchmark run would otherwise keep every body it was sent.
    async with FakeElasticsearch(port=port, record_requests=False, keep_sources=False) as fake:
        print(f"fake Elasticsearch on {fake.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    asyncio.run(_serve(parser.parse_args().port))
