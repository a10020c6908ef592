"""The response classifier: a pure function from a `_bulk` answer to what happens to each event.

`_bulk` answers HTTP 200 even when items fail inside it, so the status line says little: every
item is read. The tables this implements (and that the tests hold it to):

=========================================  ===========  ==========================================
item status / error type                   verdict      why
=========================================  ===========  ==========================================
200, 201                                   delivered
409 on ``create``                          delivered    the `_id` is there: an earlier attempt won
409 on ``index``                           retry        a concurrent write; the next one settles it
429, 408, 5xx, ``cluster_block_exception``  retry        a busy, recovering or read-only cluster
401, 403                                   config       credentials or privileges
404 (``index_not_found_exception``)        config       no target and no way to create it
400 naming the op type, pipeline, a        config       the same for every event: a setting is wrong
closed index or an invalid index name
other 400 (mapping, parsing)               reject       this document can never be accepted
other 4xx                                  reject
=========================================  ===========  ==========================================

Whole request: 200 -> read the items; 413 -> too large (the sink splits it); 408, 429, 5xx -> retry (with
``Retry-After``); 401, 403, 404, other 4xx and 3xx -> config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from forwarder.retry import retry_after as parse_retry_after
from forwarder.sinks.base import Outcome, Verdict
from forwarder.sinks.elasticsearch.settings import env_var

# A reason is read in a log line and a dead-letter record; Elasticsearch's can quote whole documents.
_MAX_REASON = 1000

# 400 answers that are the same for every event, whatever it holds: a setting to fix, not a poison.
_CONFIG_REASONS = (
    ("only write ops with an op_type of create are allowed in data streams", "target_type"),
    ("pipeline with id [", "pipeline"),
    ("no write index is defined for alias", "target_access_requests"),
)
_CONFIG_TYPES = {
    "index_closed_exception": "target_access_requests",
    "invalid_index_name_exception": "target_access_requests",
}
_RETRY_TYPES = frozenset({"cluster_block_exception", "es_rejected_execution_exception"})


DELIVERED = Outcome(Verdict.DELIVERED)


@dataclass(frozen=True, slots=True)
class BulkAnswer:
    """The classified response: ``whole`` when the request failed as a whole, else one per item."""

    whole: Outcome | None
    items: tuple[Outcome, ...] = ()


def describe_error(error: Any) -> str:
    """``type: reason`` with the first cause, as a person reads it; bounded in length."""
    if isinstance(error, str):
        return error[:_MAX_REASON]
    if not isinstance(error, Mapping):
        return "no error detail in the answer"
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    if isinstance(cause, Mapping):
        text += f" (caused by {cause.get('type', 'error')}: {cause.get('reason', '')})"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def classify_item(item: Mapping[str, Any]) -> Outcome:
    """One entry of ``items``: ``{"create": {"status": 201, ...}}``."""
    if len(item) != 1:
        return Outcome(Verdict.RETRY, "malformed `_bulk` item in the answer")
    action, result = next(iter(item.items()))
    if not isinstance(result, Mapping) or not isinstance(result.get("status"), int):
        return Outcome(Verdict.RETRY, "`_bulk` item without a status in the answer")
    status: int = result["status"]
    if 200 <= status < 300:
        return DELIVERED
    error = result.get("error")
    error_type = error.get("type", "") if isinstance(error, Mapping) else ""
    reason = f"{status} {describe_error(error)}"
    if status == 409:
        # `create` refused because the `_id` exists: the id is a hash of the whole canonical record
        # (forwarder.records.event_id), so an equal id means an equal record, already indexed.
        return DELIVERED if action == "create" else Outcome(Verdict.RETRY, reason)
    if status in (408, 429) or status >= 500 or error_type in _RETRY_TYPES:
        return Outcome(Verdict.RETRY, reason)
    if status == 401:
        return Outcome(Verdict.CONFIG, f"the cluster refused the credentials: {reason}")
    if status == 403:
        return Outcome(
            Verdict.CONFIG,
            f"the credentials may not write to {result.get('_index', 'the target')}: {reason}; grant "
            f"`create_doc` (data streams) or `index` and `auto_configure` on "
            f"{env_var('target_access_requests')} / {env_var('target_scim_updates')} / "
            f"{env_var('target_audit_logs')}",
        )
    if status == 404:
        return Outcome(
            Verdict.CONFIG,
            f"the target does not exist and cannot be created: {reason}; create it, create an index "
            f"template for it, or set {env_var('bootstrap_template')}=true",
        )
    if status == 400:
        return _classify_bad_request(error_type, reason)
    return Outcome(Verdict.REJECT, reason)


def _classify_bad_request(error_type: str, reason: str) -> Outcome:
    setting = _CONFIG_TYPES.get(error_type)
    if setting is None:
        setting = next((name for text, name in _CONFIG_REASONS if text in reason), None)
    if setting is not None:
        return Outcome(Verdict.CONFIG, f"{reason}; check {env_var(setting)}")
    return Outcome(Verdict.REJECT, reason)


def _error_of(body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:200].decode("utf-8", "replace").strip()
        return text or "empty answer"
    if isinstance(parsed, Mapping) and "error" in parsed:
        return describe_error(parsed["error"])
    return "no error detail in the answer"


def classify_bulk_response(
    status: int,
    body: bytes,
    expected_items: int,
    retry_after: str | None = None,
    auth_variables: str = "",
    location: str | None = None,
) -> BulkAnswer:
    """Classify the answer to one `_bulk` request that carried ``expected_items`` actions."""
    wait = parse_retry_after(retry_after)
    if status == 413:
        return BulkAnswer(
            Outcome(Verdict.TOO_LARGE, "413 request larger than the cluster's http.max_content_length")
        )
    if status in (408, 429) or status >= 500:
        return BulkAnswer(Outcome(Verdict.RETRY, f"HTTP {status} {_error_of(body)}", wait))
    if status == 401:
        return BulkAnswer(
            Outcome(Verdict.CONFIG, f"authentication failed ({_error_of(body)}); check {auth_variables}")
        )
    if status == 403:
        return BulkAnswer(
            Outcome(
                Verdict.CONFIG,
                f"not allowed to use `_bulk` ({_error_of(body)}); grant the credentials in {auth_variables} "
                "`create_doc` (data streams) or `index` on the targets",
            )
        )
    if status == 404:
        return BulkAnswer(
            Outcome(Verdict.CONFIG, f"no `_bulk` endpoint at this address (404); check {env_var('url')}")
        )
    if 300 <= status < 400:
        return BulkAnswer(
            Outcome(
                Verdict.CONFIG,
                f"redirected ({status}) to {location or 'elsewhere'}; set {env_var('url')} to it",
            )
        )
    if not 200 <= status < 300:
        return BulkAnswer(Outcome(Verdict.CONFIG, f"`_bulk` refused with HTTP {status}: {_error_of(body)}"))
    return _classify_items(body, expected_items, wait)


def _classify_items(body: bytes, expected_items: int, wait: float | None) -> BulkAnswer:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return BulkAnswer(
            Outcome(
                Verdict.CONFIG,
                f"the answer to `_bulk` is not JSON: is {env_var('url')} "
                "an Elasticsearch or OpenSearch address?",
            )
        )
    items = parsed.get("items") if isinstance(parsed, Mapping) else None
    if not isinstance(items, list):
        return BulkAnswer(
            Outcome(
                Verdict.CONFIG,
                f"the answer to `_bulk` has no items: is {env_var('url')} "
                "an Elasticsearch or OpenSearch address?",
            )
        )
    if len(items) != expected_items:
        # Replaying the whole batch is harmless (ids make it idempotent); guessing which item is which is not.
        return BulkAnswer(
            Outcome(Verdict.RETRY, f"the answer has {len(items)} items for {expected_items} actions", wait)
        )
    if parsed.get("errors") is False:
        # Both Elasticsearch and OpenSearch set `errors` when any item failed: none did, so no item
        # needs reading (per item, that was 5 % of the forwarder's CPU with this sink).
        return BulkAnswer(None, (DELIVERED,) * expected_items)
    outcomes = tuple(
        classify_item(item) if isinstance(item, Mapping) else Outcome(Verdict.RETRY, "malformed `_bulk` item")
        for item in items
    )
    if wait is not None:
        outcomes = tuple(
            Outcome(o.verdict, o.reason, wait) if o.verdict is Verdict.RETRY else o for o in outcomes
        )
    return BulkAnswer(None, outcomes)
