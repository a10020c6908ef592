"""The settings benchmarks/freshness.py compares, and their request cost per hour, counted from the code.

Where the numbers come from (forwarder/source/streams.py, paging.py, page_sizes.py, identity_providers.py):

- A caught-up stream polls once per ``FORWARDER_POLL_INTERVAL`` (it sleeps that long after each window, so
  a cycle is the interval plus the window's read time: at most 3600 / interval polls an hour). A live
  window is ``[position - FORWARDER_OVERLAP, now - FORWARDER_SETTLE_DELAY)``: interval + overlap seconds of
  rows, one page while that is under ``FORWARDER_PAGE_SIZE`` (1000) rows.
- ``access_requests`` answers carry no ``result_info``: a page shorter than asked ends a window once this
  credential has seen the endpoint fill a page of that size, or when it is shorter than the longest page
  the endpoint ever returned (a server may cap pages silently, but not below a page it returned). Other
  short pages cost a second, empty, page: in a quiet account's steady state none do (the worst case,
  every window, is the ``access_requests_page_size_unknown`` line).
- ``scim_updates`` answers say ``total_pages``: one request per page, at least one per window.
- Every ``FORWARDER_LATE_REREAD_INTERVAL`` (300 s) each stream reads ``FORWARDER_LATE_HORIZON`` (900 s)
  plus one interval (1200 s in all) before its position again: one request per page of the rows in it
  (access: plus the confirming page while the page size is not known, and one more after a last page that
  happens to be exactly full).
- The SCIM stream needs its account's SCIM identity providers: the list is read again every
  ``FORWARDER_IDP_REFRESH_INTERVAL`` (3600 s), one request per 100 providers (none when
  ``FORWARDER_SCIM_IDP_IDS`` is set).
- ``audit_logs`` (off by default) pages by cursor: one request per window while a window holds under
  1000 rows, and its own re-reads.

Cloudflare allows 1200 requests per 5 minutes per user (14,400 an hour), shared with the dashboard
and every other tool using the same user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from forwarder.settings.model import Settings

BUDGET_PER_HOUR = 1200 * 3600 // 300


def _default(name: str) -> Any:
    """The settings model's default, so that these numbers follow the code's."""
    return Settings.model_fields[name].default


PAGE_SIZE: int = _default("page_size")


@dataclass(frozen=True)
class Setting:
    """One configuration the benchmark runs: its environment, and the timing it implies."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    poll_interval: float = _default("poll_interval")
    settle_delay: float = _default("settle_delay")
    overlap: float = _default("overlap")
    late_horizon: float = _default("late_horizon")
    reread_interval: float = _default("late_reread_interval")
    idp_refresh_interval: float = _default("idp_refresh_interval")

    @property
    def bound(self) -> float:
        """Issue 24's promise for p99: the poll interval plus the settle delay plus 5 s."""
        return self.poll_interval + self.settle_delay + 5.0

    @property
    def drain_seconds(self) -> float:
        """How long after the measured minutes a row visible at their end may still take: a row later
        than the overlap reaches only the next trailing re-read."""
        return self.poll_interval + self.settle_delay + self.reread_interval + 60.0


SETTINGS: dict[str, Setting] = {
    "default": Setting("default"),
    # A poll every 10 s, windows ending 10 s behind now. The overlap (120 s) stays: a row that shows
    # up to overlap + settle = 130 s after its own time is still found by the next poll.
    "low-latency": Setting(
        "low-latency",
        env={"FORWARDER_POLL_INTERVAL": "10", "FORWARDER_SETTLE_DELAY": "10"},
        poll_interval=10.0,
        settle_delay=10.0,
    ),
}


def _numbered_pages(rows: float, *, result_info: bool, size_known: bool) -> int:
    """Requests to read a window of ``rows`` rows by page number, ``PAGE_SIZE`` rows a page."""
    whole = int(rows) // PAGE_SIZE
    if result_info:
        return max(1, math.ceil(rows / PAGE_SIZE))
    if rows == 0:
        return 1
    # Full pages, then the short last one (an exactly full last page is followed by an empty one);
    # a short page is trusted as the last only when a page of this size was once seen full.
    confirming = 0 if size_known or whole else 1
    return whole + 1 + confirming


def requests_per_hour(
    setting: Setting,
    *,
    access_per_minute: float,
    scim_per_minute: float,
    audit_per_minute: float | None = None,
    scim_providers: int = 2,
) -> dict[str, float]:
    """Requests per hour for one account, by endpoint, and their share of the hourly budget (%).

    ``audit_per_minute`` None: audit logs off (the default). ``access_requests`` is counted for a
    process that knows where the last page ends: after a full page (``FORWARDER_PAGE_SIZE`` rows, within
    minutes at a few rows a second) or, in a quiet account, once its windows are no longer than the longest
    page seen (the first hour); the ``access_requests_page_size_unknown`` line is the worst case, a
    confirming page for every window.
    """
    polls = 3600 / setting.poll_interval
    rereads = 3600 / setting.reread_interval
    live_span = setting.poll_interval + setting.overlap
    costs: dict[str, float] = {}

    def stream(name: str, per_minute: float, *, result_info: bool, size_known: bool = True) -> float:
        live_rows = per_minute * live_span / 60
        # A re-read reaches back the horizon plus one interval (StreamOptions.late_reach).
        horizon_rows = per_minute * (setting.late_horizon + setting.reread_interval) / 60
        live = polls * _numbered_pages(live_rows, result_info=result_info, size_known=size_known)
        late = rereads * _numbered_pages(horizon_rows, result_info=result_info, size_known=size_known)
        return live + late

    costs["access_requests"] = stream("access_requests", access_per_minute, result_info=False)
    costs["access_requests_page_size_unknown"] = stream(
        "access_requests", access_per_minute, result_info=False, size_known=False
    )
    costs["scim_updates"] = stream("scim_updates", scim_per_minute, result_info=True)
    costs["identity_providers"] = math.ceil(scim_providers / 100) * 3600 / setting.idp_refresh_interval
    if audit_per_minute is not None:
        # Cursor paging: one request per window or re-read of under 1000 rows.
        costs["audit_logs"] = stream("audit_logs", audit_per_minute, result_info=True)
    total = sum(value for name, value in costs.items() if name != "access_requests_page_size_unknown")
    costs = {name: round(value, 1) for name, value in costs.items()}
    costs["total"] = round(total, 1)
    costs["budget_share_percent"] = round(100 * total / BUDGET_PER_HOUR, 2)
    return costs


def endpoint_name(path: str) -> str:
    """What a request the simulator received asked for: a log type, the IdP list, or its path's tail."""
    for suffix, name in (
        ("/access/logs/access_requests", "access_requests"),
        ("/access/logs/scim/updates", "scim_updates"),
        ("/access/identity_providers", "identity_providers"),
        ("/logs/audit", "audit_logs"),
    ):
        if path.endswith(suffix):
            return name
    return path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]
