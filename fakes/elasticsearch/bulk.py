"""The `_bulk` body as Elasticsearch reads it (strict NDJSON), and its ``filter_path`` on answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MAX_ID_BYTES = 512
NDJSON_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/vnd.elasticsearch+json",
    "application/vnd.elasticsearch+x-ndjson",
)
# Stands for "no such value": a filtered-out branch, or a field a document lacks (None is a value).
MISSING: Any = object()
_UNTERMINATED = "The bulk request must be terminated by a newline [\\n]"

Operation = tuple[str, dict[str, Any], bytes | None]


@dataclass(frozen=True)
class BulkRefusal:
    """Why the whole request is refused with 400: Elasticsearch's error type and reason."""

    error_type: str
    reason: str


def parse_bulk(body: bytes, default_index: str | None) -> list[Operation] | BulkRefusal:
    """The (action, metadata, source line) of each operation, or why the whole body is refused.

    Malformed lines refuse the request at once; a missing index or an over-long `_id` are gathered
    and refused together, as Elasticsearch's request validation does.
    """
    if not body:
        return BulkRefusal("parse_exception", "request body is required")
    if not body.endswith(b"\n"):
        return BulkRefusal("illegal_argument_exception", _UNTERMINATED)
    lines = [line[:-1] if line.endswith(b"\r") else line for line in body[:-1].split(b"\n")]
    operations: list[Operation] = []
    problems: list[str] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if not line.strip():
            continue
        parsed = _action_line(line, number)
        if isinstance(parsed, BulkRefusal):
            return parsed
        action, meta = parsed
        meta.setdefault("_index", default_index)
        problems.extend(_validation_problems(meta))
        source: bytes | None = None
        if action != "delete":
            if number >= len(lines):
                return BulkRefusal("illegal_argument_exception", _UNTERMINATED)
            source = lines[number]
            number += 1
        operations.append((action, meta, source))
    if problems:
        reason = "Validation Failed: " + "".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
        return BulkRefusal("action_request_validation_exception", reason)
    return operations


def _action_line(line: bytes, number: int) -> tuple[str, dict[str, Any]] | BulkRefusal:
    try:
        action_line = orjson.loads(line)
    except orjson.JSONDecodeError:
        return BulkRefusal(
            "x_content_parse_exception", f"[{number}:1] Malformed action/metadata line [{number}]"
        )
    if not isinstance(action_line, dict) or len(action_line) != 1:
        return BulkRefusal(
            "illegal_argument_exception",
            f"Malformed action/metadata line [{number}], expected a simple value for field [_index] "
            "but found [START_OBJECT]",
        )
    action, meta = next(iter(action_line.items()))
    if action not in ("index", "create", "delete") or not isinstance(meta, dict):
        return BulkRefusal(
            "illegal_argument_exception",
            f"Malformed action/metadata line [{number}], expected field [create], [delete], [index] "
            f"or [update] but found [{action}]",
        )
    return action, dict(meta)


def _validation_problems(meta: dict[str, Any]) -> list[str]:
    problems = []
    if not meta["_index"]:
        problems.append("index is missing")
    doc_id = meta.get("_id")
    if isinstance(doc_id, str) and len(doc_id.encode()) > MAX_ID_BYTES:
        problems.append(
            f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: {len(doc_id.encode())}"
        )
    return problems


def filter_answer(value: Any, paths: list[list[str]]) -> Any:
    """Elasticsearch's ``filter_path``: keep what a path names, drop what ends up empty."""
    if any(not path for path in paths):
        return value
    if isinstance(value, list):
        return [kept for kept in (filter_answer(v, paths) for v in value) if kept is not MISSING]
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            below = [path[1:] for path in paths if path[0] in (key, "*")]
            if below:
                kept = filter_answer(child, below)
                if kept is not MISSING:
                    out[key] = kept
        return out or MISSING
    return MISSING
