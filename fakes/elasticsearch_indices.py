"""What the fake Elasticsearch holds, and how a `_bulk` operation changes it: targets (data streams
and indices) with their documents, index templates, and the rules a write follows."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from fakes.elasticsearch_bulk import document_problem, item_error, name_problem, pattern_matches

Flavor = Literal["elasticsearch", "opensearch"]


@dataclass
class Target:
    kind: Literal["data_stream", "index"]
    # _id -> the source line exactly as received.
    documents: dict[str, bytes] = field(default_factory=dict)


class Indices:
    def __init__(
        self,
        *,
        flavor: Flavor,
        writable: Iterable[str] | None,
        auto_create_index: bool,
        field_types: Mapping[str, str] | None,
        keep_sources: bool,
    ) -> None:
        self.flavor = flavor
        self.writable = None if writable is None else set(writable)
        self.auto_create_index = auto_create_index
        self.field_types = dict(field_types or {})
        self.keep_sources = keep_sources
        self.targets: dict[str, Target] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        if flavor == "elasticsearch":
            self.templates["logs"] = {"index_patterns": ["logs-*-*"], "priority": 100, "data_stream": {}}
        self._sequence = itertools.count()

    def resolve(self, action: str, meta: Mapping[str, Any]) -> Target | dict[str, Any]:
        """The target of an operation, created on first use as Elasticsearch would, or the item error."""
        name: str = meta["_index"]
        problem = name_problem(name)
        if problem:
            return item_error(
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
            return item_error(action, meta, 403, {"type": "security_exception", "reason": reason})
        target = self.targets.get(name)
        if target is None:
            matching = [
                t
                for t in self.templates.values()
                if any(pattern_matches(p, name) for p in t["index_patterns"])
            ]
            winner = max(matching, key=lambda t: t.get("priority", 0), default=None)
            if winner is not None and "data_stream" in winner:
                target = Target("data_stream")
            elif self.auto_create_index:
                target = Target("index")
            else:
                reason = f"no such index [{name}] and [action.auto_create_index] is [false]"
                return item_error(
                    action, meta, 404, {"type": "index_not_found_exception", "reason": reason, "index": name}
                )
        if target.kind == "data_stream" and action != "create":
            reason = "only write ops with an op_type of create are allowed in data streams"
            return item_error(action, meta, 400, {"type": "illegal_argument_exception", "reason": reason})
        self.targets.setdefault(name, target)
        return target

    def apply(self, action: str, meta: dict[str, Any], source: bytes | None) -> dict[str, Any]:
        target = self.resolve(action, meta)
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
            return item_error(
                action, meta, 400, {"type": parse_type, "reason": f"[1:{error.pos + 1}] failed to parse"}
            )
        problem = document_problem(
            document,
            data_stream=target.kind == "data_stream",
            field_types=self.field_types,
            doc_id=doc_id,
            parse_type=parse_type,
        )
        if problem is not None:
            return item_error(action, meta, 400, problem)
        return self._write(action, meta, target, source)

    def _write(self, action: str, meta: dict[str, Any], target: Target, source: bytes) -> dict[str, Any]:
        """Store a checked document: ``create`` of an `_id` already there is a 409 conflict."""
        name, doc_id = meta["_index"], meta["_id"]
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
            return item_error(action, {**meta, "_index": backing}, 409, conflict)
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
