"""The faults the fake `_bulk` injects on demand, and the item errors a real cluster answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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

    def hits(self, position: int) -> bool:
        return position >= self.offset and (position - self.offset) % self.every == 0


@dataclass(frozen=True)
class DelayFault:
    """Answer the next `_bulk` request normally, but only after ``seconds``: a slow cluster."""

    seconds: float


Fault = WholeFault | ResetFault | ItemFault | DelayFault

# What Elasticsearch says when it fails an item with these statuses, as seen in real answers.
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


def injected_item(action: str, meta: Mapping[str, Any], status: int) -> dict[str, Any]:
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
