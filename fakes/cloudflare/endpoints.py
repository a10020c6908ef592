"""What the three endpoints answer to a query that already passed the OpenAPI check.

Window semantics (both log endpoints): a record is returned when ``since <= time < until`` (since
inclusive, until exclusive), where ``time`` is the instant its ``created_at``/``logged_at`` string denotes.
An inclusive ``since`` means a poller resuming from the last timestamp it saw gets that record again rather
than losing its equals; an exclusive ``until`` lets adjacent windows ``[a, b)``, ``[b, c)`` never overlap.
Order is by time, ties broken by the order records became visible; ``desc`` is the exact reverse of ``asc``.

Account audit logs (version 2) differ as the spec says: ``since`` and ``before`` are both required and both
exclusive ("newer than", "older than"; a date alone means its midnight UTC), the page size is ``limit``
(default 100, at most 1000) and the next page is asked for with the opaque ``result_info.cursor`` of the
one before; the last page carries no cursor. A cursor holds the offset of the next row in the window, so a
row that appears late inside the window shifts the next page by one (the client sees a row twice, never
none); a cursor of another query is refused (400).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from fakes.cloudflare.directory import Directory
from fakes.cloudflare.envelope import JsonObject, success
from fakes.cloudflare.record_store import Stream
from fakes.cloudflare.timestamps import parse_rfc3339

_SCIM_FIELD_FILTERS = (
    "status",
    "resource_type",
    "request_method",
    "resource_user_email",
    "resource_group_name",
    "cf_resource_id",
    "idp_resource_id",
)


class InvalidQuery(Exception):
    """Values the OpenAPI types allow but the endpoint cannot serve (e.g. ``page=0``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Paging:
    """How injected faults bend paging: ``ignore_page`` always serves page 1, ``cap`` clamps the page size.

    A capped size is the one pages are cut by, as on a server that clamps ``per_page`` before paging: page
    N holds rows ``(N-1)*cap`` to ``N*cap``, so a client that keeps its own page size skips rows.
    """

    ignore_page: bool = False
    cap: int | None = None


@dataclass(frozen=True)
class Query:
    values: dict[str, list[str]]

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> Query:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        return cls(values)

    def text(self, name: str) -> str | None:
        given = self.values.get(name)
        return given[-1] if given else None

    def integer(self, name: str) -> int | None:
        text = self.text(name)
        return int(text) if text is not None else None

    def time(self, name: str) -> int | None:
        text = self.text(name)
        return parse_rfc3339(text) if text is not None else None

    def page_size(self, default: int, paging: Paging) -> int:
        # per_page is the page size when given; a lone limit acts as one (the SDKs send either).
        size = self.integer("per_page")
        if size is None:
            size = self.integer("limit")
        if size is None:
            size = default
        return size if paging.cap is None else min(size, paging.cap)

    def page(self, paging: Paging) -> int:
        page = self.integer("page")
        return 1 if paging.ignore_page or page is None else page


def _check_paging(page: int, size: int) -> None:
    problems = []
    if page < 1:
        problems.append(f"page: {page} is less than 1")
    if size < 1:
        problems.append(f"per_page: {size} is less than 1")
    if problems:
        raise InvalidQuery(problems)


def _positions(window: range, descending: bool) -> Iterator[int]:
    return iter(reversed(window) if descending else window)


def _select(window: range, descending: bool, page: int, size: int) -> range:
    start = (page - 1) * size
    ordered = window[::-1] if descending else window
    return ordered[start : start + size]


def _email_filter(query: Query) -> Callable[[JsonObject], bool] | None:
    email = query.text("email")
    if email is None:
        return None
    operator = query.text("emailOp")
    exact = query.text("email_exact") == "true" or (operator == "eq" and "emailOp" in query.values)

    def matches(record: JsonObject) -> bool:
        value = record.get("user_email")
        if not isinstance(value, str):
            return False
        return value == email if exact else email in value

    if operator == "neq":
        return lambda record: not matches(record)
    return matches


def access_requests(stream: Stream, query: Query, paging: Paging) -> JsonObject:
    """No ``result_info``: the real endpoint sends none, so clients must stop on a short page."""
    page, size = query.page(paging), query.page_size(25, paging)
    _check_paging(page, size)
    descending = query.text("direction") != "asc"
    window = stream.window(query.time("since"), query.time("until"))
    keep = _email_filter(query)
    if keep is None:
        result = [stream.record_at(position) for position in _select(window, descending, page, size)]
    else:
        # Filters that are not time cost a scan of the window, like an unindexed column would.
        result = []
        skip = (page - 1) * size
        for position in _positions(window, descending):
            record = stream.record_at(position)
            if not keep(record):
                continue
            if skip:
                skip -= 1
                continue
            result.append(record)
            if len(result) == size:
                break
    fields = query.text("fields")
    if fields:
        wanted = {name.strip() for name in fields.split(",")}
        result = [{name: value for name, value in record.items() if name in wanted} for record in result]
    return success(result)


def _result_info(page: int, size: int, count: int, total: int) -> JsonObject:
    return {
        "count": count,
        "page": page,
        "per_page": size,
        "total_count": total,
        "total_pages": math.ceil(total / size),
    }


def scim_updates(stream: Stream, query: Query, paging: Paging) -> JsonObject:
    page, size = query.page(paging), query.page_size(20, paging)
    _check_paging(page, size)
    descending = query.text("direction") != "asc"
    window = stream.window(query.time("since"), query.time("until"))
    providers = set(query.values.get("idp_id", []))
    field_filters = {name: set(query.values[name]) for name in _SCIM_FIELD_FILTERS if name in query.values}
    present = {provider for provider, count in stream.providers.items() if count}
    if not field_filters and present <= providers:
        total = len(window)
        result = [stream.record_at(position) for position in _select(window, descending, page, size)]
        return success(result, _result_info(page, size, len(result), total))
    # A subset of providers or a field filter: scan the window (the total must be counted anyway).
    start = (page - 1) * size
    result = []
    total = 0
    for position in _positions(window, descending):
        if stream.provider_at(position) not in providers:
            continue
        if field_filters:
            record = stream.record_at(position)
            if any(record.get(name) not in wanted for name, wanted in field_filters.items()):
                continue
        if start <= total < start + size:
            result.append(stream.record_at(position))
        total += 1
    return success(result, _result_info(page, size, len(result), total))


def identity_providers(directory: Directory, account_id: str, query: Query, paging: Paging) -> JsonObject:
    page, size = query.page(paging), query.page_size(200, paging)
    _check_paging(page, size)
    providers = directory.identity_providers
    if query.text("scim_enabled") == "true":
        providers = directory.scim_providers
    chosen = providers[(page - 1) * size : page * size]
    result = [provider.to_json(account_id) for provider in chosen]
    return success(result, _result_info(page, size, len(result), len(providers)))


def _audit_time(query: Query, name: str) -> int | None:
    text = query.text(name)
    if text is None:
        return None
    parsed = parse_rfc3339(f"{text}T00:00:00Z" if len(text) == 10 else text)
    if parsed is None:
        raise InvalidQuery([f"{name}: {text!r} is neither a date nor an RFC 3339 date-time"])
    return parsed


def _cursor(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{fingerprint}".encode()).decode()


def _cursor_offset(cursor: str | None, fingerprint: str) -> int:
    if cursor is None:
        return 0
    try:
        offset, _, made_for = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if made_for == fingerprint and int(offset) >= 0:
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidQuery([f"cursor: {cursor!r} is not a cursor of this query"])


def audit_logs(stream: Stream, query: Query, paging: Paging) -> JsonObject:
    """Cursor paging: ``ignore_page`` ignores the cursor (page 1 and its cursor again, a loop a client must
    notice), ``cap`` cuts pages short; the cursor still points past what was served, so nothing is skipped."""
    since, before = _audit_time(query, "since"), _audit_time(query, "before")
    limit = float(query.text("limit") or 100)
    if not limit.is_integer():
        raise InvalidQuery([f"limit: {limit:g} is not a whole number"])
    size = int(limit) if paging.cap is None else min(int(limit), paging.cap)
    descending = query.text("direction") != "asc"
    fingerprint = f"{since}:{before}:{int(descending)}"
    offset = 0 if paging.ignore_page else _cursor_offset(query.text("cursor"), fingerprint)
    # Both ends exclusive: `since` is "newer than".
    window = stream.window(None if since is None else since + 1, before)
    chosen = (window[::-1] if descending else window)[offset : offset + size]
    result = [stream.record_at(position) for position in chosen]
    info: JsonObject = {"count": str(len(result))}
    if offset + len(chosen) < len(window):
        info["cursor"] = _cursor(offset + len(chosen), fingerprint)
    return success(result, info)
