"""The `_bulk` protocol of the fake Elasticsearch, apart from its HTTP server: the faults a test
injects, strict NDJSON parsing, names, ``filter_path``, field types, and the items of an answer.

Everything here is a pure function of its arguments; :mod:`fakes.elasticsearch` serves it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

MAX_ID_BYTES = 512
_FORBIDDEN = set('\\/*?"<>| ,#:')

# One operation of a `_bulk` body: (action, metadata, source line or None for `delete`).
Operation = tuple[str, dict[str, Any], bytes | None]


@dataclass(frozen=True)
class Refusal:
    """A whole `_bulk` request refused: the status and error Elasticsearch answers with."""

    status: int
    error_type: str
    reason: str


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

INJECTED_ERRORS: dict[int, tuple[str, str]] = {
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


def pattern_matches(pattern: str, name: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None


MISSING = object()


def apply_filter_path(value: Any, paths: list[list[str]]) -> Any:
    """Elasticsearch's ``filter_path``: keep what a path names, drop what ends up empty."""
    if any(not path for path in paths):
        return value
    if isinstance(value, list):
        return [kept for kept in (apply_filter_path(v, paths) for v in value) if kept is not MISSING]
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            below = [path[1:] for path in paths if path[0] in (key, "*")]
            if below:
                kept = apply_filter_path(child, below)
                if kept is not MISSING:
                    out[key] = kept
        return out or MISSING
    return MISSING


def lookup(document: Mapping[str, Any], dotted: str) -> Any:
    """A field by its dotted name, whether the document nests it or spells it with dots."""
    if dotted in document:
        return document[dotted]
    head, _, rest = dotted.partition(".")
    child = document.get(head, MISSING)
    if rest and isinstance(child, Mapping):
        return lookup(child, rest)
    return child if not rest else MISSING


def type_problem(kind: str, value: Any) -> str | None:
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


def parse_bulk(body: bytes, default_index: str | None) -> list[Operation] | Refusal:
    """The operations of an NDJSON body, or why Elasticsearch refuses the whole request."""
    if not body:
        return Refusal(400, "parse_exception", "request body is required")
    if not body.endswith(b"\n"):
        return Refusal(
            400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"
        )
    lines = [line[:-1] if line.endswith(b"\r") else line for line in body[:-1].split(b"\n")]
    operations: list[Operation] = []
    problems: list[str] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if not line.strip():
            continue
        action_and_meta = _action_line(line, number)
        if isinstance(action_and_meta, Refusal):
            return action_and_meta
        action, meta = action_and_meta
        meta.setdefault("_index", default_index)
        problems.extend(_meta_problems(meta))
        source: bytes | None = None
        if action != "delete":
            if number >= len(lines):
                return Refusal(
                    400,
                    "illegal_argument_exception",
                    "The bulk request must be terminated by a newline [\\n]",
                )
            source = lines[number]
            number += 1
        operations.append((action, meta, source))
    if problems:
        reason = "Validation Failed: " + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
        return Refusal(400, "action_request_validation_exception", reason)
    return operations


def _action_line(line: bytes, number: int) -> tuple[str, dict[str, Any]] | Refusal:
    try:
        action_line = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Refusal(
            400, "x_content_parse_exception", f"[{number}:1] Malformed action/metadata line [{number}]"
        )
    if not isinstance(action_line, dict) or len(action_line) != 1:
        return Refusal(
            400,
            "illegal_argument_exception",
            f"Malformed action/metadata line [{number}], expected a simple value for field [_index] "
            "but found [START_OBJECT]",
        )
    action, meta = next(iter(action_line.items()))
    if action not in ("index", "create", "delete") or not isinstance(meta, dict):
        return Refusal(
            400,
            "illegal_argument_exception",
            f"Malformed action/metadata line [{number}], expected field [create], [delete], [index] "
            f"or [update] but found [{action}]",
        )
    return action, dict(meta)


def _meta_problems(meta: Mapping[str, Any]) -> list[str]:
    problems = []
    if not meta["_index"]:
        problems.append("index is missing")
    doc_id = meta.get("_id")
    if isinstance(doc_id, str) and len(doc_id.encode()) > MAX_ID_BYTES:
        problems.append(
            f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: {len(doc_id.encode())}"
        )
    return problems


def injected_item(action: str, meta: Mapping[str, Any], status: int) -> dict[str, Any]:
    error_type, reason = INJECTED_ERRORS.get(status, ("exception", f"injected {status}"))
    reason = reason.format(index=meta["_index"], id=meta.get("_id"))
    return {
        action: {
            "_index": meta["_index"],
            "_id": meta.get("_id"),
            "status": status,
            "error": {"type": error_type, "reason": reason},
        }
    }


def item_error(action: str, meta: Mapping[str, Any], status: int, error: dict[str, Any]) -> dict[str, Any]:
    return {action: {"_index": meta["_index"], "_id": meta.get("_id"), "status": status, "error": error}}


def document_problem(
    document: Any, *, data_stream: bool, field_types: Mapping[str, str], doc_id: str, parse_type: str
) -> dict[str, Any] | None:
    """The item error for a source line Elasticsearch cannot index, or None."""
    if not isinstance(document, dict):
        return {"type": parse_type, "reason": "failed to parse, document is empty"}
    if data_stream and lookup(document, "@timestamp") is MISSING:
        cause = {
            "type": "illegal_argument_exception",
            "reason": "data stream timestamp field [@timestamp] is missing",
        }
        return {"type": parse_type, "reason": "[1:2] failed to parse", "caused_by": cause}
    for dotted, kind in field_types.items():
        value = lookup(document, dotted)
        problem = None if value is MISSING or value is None else type_problem(kind, value)
        if problem:
            reason = (
                f"[1:2] failed to parse field [{dotted}] of type [{kind}] in document with id "
                f"'{doc_id}'. Preview of field's value: '{value}'"
            )
            cause = {"type": "illegal_argument_exception", "reason": problem}
            return {"type": parse_type, "reason": reason, "caused_by": cause}
    return None
