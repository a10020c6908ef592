"""Where `_bulk` writes go: data streams and indices, created on first use, and the per-item answers.

A target becomes a data stream when the highest-priority index template matching it has
``data_stream``, else a plain index if auto-creation is on; names, write privileges, typed fields,
``@timestamp`` in data streams and ``create`` conflicts are checked as Elasticsearch checks them.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from fakes.elasticsearch.bulk import MISSING

Flavor = Literal["elasticsearch", "opensearch"]
_FORBIDDEN = set('\\/*?"<>| ,#:')


@dataclass
class Target:
    kind: Literal["data_stream", "index"]
    # _id -> the source line exactly as received.
    documents: dict[str, bytes] = field(default_factory=dict)


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


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    """A field by its dotted name, whether the document nests it or spells it with dots."""
    if dotted in document:
        return document[dotted]
    head, _, rest = dotted.partition(".")
    child = document.get(head, MISSING)
    if rest and isinstance(child, Mapping):
        return _lookup(child, rest)
    return child if not rest else MISSING


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


def item_error(action: str, meta: Mapping[str, Any], status: int, error: dict[str, Any]) -> dict[str, Any]:
    return {action: {"_index": meta["_index"], "_id": meta.get("_id"), "status": status, "error": error}}


class Indices:
    """The cluster's targets and index templates, and what each `_bulk` operation does to them."""

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
                if any(_pattern_matches(p, name) for p in t["index_patterns"])
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
        """Carry out one operation; its item of the `_bulk` answer."""
        target = self.resolve(action, meta)
        if isinstance(target, dict):
            return target
        doc_id = (
            meta.get("_id") or base64.urlsafe_b64encode(next(self._sequence).to_bytes(15, "big")).decode()
        )
        meta = {**meta, "_id": doc_id}
        if action == "delete":
            found = target.documents.pop(doc_id, None) is not None
            return {
                action: {
                    "_index": meta["_index"],
                    "_id": doc_id,
                    "status": 200 if found else 404,
                    "result": "deleted" if found else "not_found",
                }
            }
        assert source is not None
        problem = self._document_problem(target, doc_id, source)
        if problem is not None:
            return item_error(action, meta, 400, problem)
        return self._store(target, action, meta, source)

    def _document_problem(self, target: Target, doc_id: str, source: bytes) -> dict[str, Any] | None:
        """The error of a source this cluster cannot index (not JSON, no ``@timestamp`` in a data
        stream, a value of the wrong type for a typed field); None when it can."""
        parse_type = (
            "document_parsing_exception" if self.flavor == "elasticsearch" else "mapper_parsing_exception"
        )
        try:
            document = orjson.loads(source)
        except orjson.JSONDecodeError as error:
            return {"type": parse_type, "reason": f"[1:{error.pos + 1}] failed to parse"}
        if not isinstance(document, dict):
            return {"type": parse_type, "reason": "failed to parse, document is empty"}
        if target.kind == "data_stream" and _lookup(document, "@timestamp") is MISSING:
            cause = {
                "type": "illegal_argument_exception",
                "reason": "data stream timestamp field [@timestamp] is missing",
            }
            return {"type": parse_type, "reason": "[1:2] failed to parse", "caused_by": cause}
        for dotted, kind in self.field_types.items():
            value = _lookup(document, dotted)
            problem = None if value is MISSING or value is None else _type_problem(kind, value)
            if problem:
                reason = (
                    f"[1:2] failed to parse field [{dotted}] of type [{kind}] in document with id "
                    f"'{doc_id}'. Preview of field's value: '{value}'"
                )
                cause = {"type": "illegal_argument_exception", "reason": problem}
                return {"type": parse_type, "reason": reason, "caused_by": cause}
        return None

    def _store(self, target: Target, action: str, meta: dict[str, Any], source: bytes) -> dict[str, Any]:
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
