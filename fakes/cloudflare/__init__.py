"""A protocol-faithful fake of the Cloudflare API v4 for Access logs: used by ``demo``, tests and benchmarks.

It serves, under ``/client/v4``:

- ``GET /accounts/{account_id}/access/logs/access_requests``: ``since`` inclusive, ``until`` exclusive,
  ``direction`` (default ``desc``), ``page``, ``per_page`` (else ``limit``, default 25), ``email`` filters,
  ``fields``; no ``result_info``, as the real endpoint.
- ``GET /accounts/{account_id}/access/logs/scim/updates``: ``idp_id`` required and repeated per value,
  ``per_page`` up to 1000, ``result_info``, filters on ``status``/``resource_type``/``request_method``/...
- ``GET /accounts/{account_id}/access/identity_providers``: SCIM-enabled and other IdPs, ``result_info``.
- ``GET /accounts/{account_id}/logs/audit`` (account audit logs, version 2): ``since`` and ``before`` required
  and exclusive, ``limit`` (default 100, at most 1000), cursor paging by ``result_info.cursor``.

Every answer is the v4 envelope ``{success, errors, messages, result}``. Requests pass, in order: injected
faults, the per-credential rate limit (headers ``X-RateLimit-*``, ``Ratelimit``, ``Ratelimit-Policy`` on
every answer, 429/971 plus ``Retry-After`` when over), routing (404/7003), auth headers (400/9106,
400/6003+6111, 401/10001), token permission and account (403/10000), the OpenAPI parameter contract
(400, and the problem appended to ``Simulator.violations``).

Python API::

    config = SimulatorConfig(
        accounts=["0123456789abcdef0123456789abcdef"], seed=1, start=..., end=...,  # aware datetimes
        access_per_minute=10.0, scim_per_minute=2.0,
        credentials=[Credential(token="t0k3n", permissions=ALL_PERMISSIONS, accounts=None)],
        rate_limit=RateLimit(requests=1200, period=300.0, block=300.0, time_scale=1.0),
        profile=DataProfile(late=0.02, late_max_delay=120.0, ...),
        latency=0.3,                           # round trip in simulated seconds (scaled by time_scale)
    )
    sim = Simulator(config, clock=time.time)   # or clock=ManualClock() to move time by hand
    base_url = await sim.start()               # "http://127.0.0.1:PORT/client/v4"
    sim.records(account_id, "access_requests") # ground truth, visible or not, in time order
    sim.add_records(account_id, "scim_updates", [record, ...], visible_after=30.0)
    sim.faults.add(Fault.too_many_requests(count=3, retry_after=2, path="*/scim/updates"))
    sim.requests, sim.violations, sim.stats    # what was received, broken, answered
    DashboardUser(sim, "default", requests=150).start()  # a person spending the same user's budget
    await sim.stop()

    with SimulatorThread(config) as running:   # for synchronous code and subprocess tests
        running.base_url; running.add_fault(Fault.connection_reset()); running.call(lambda sim: ...)

Standalone: ``python -m fakes.cloudflare --port 8787 --accounts <32 hex> --seed 1``; it prints the base
URL and the token to use. ``/__sim__/*`` control endpoints are described in ``control.py``.
"""

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.clock import ManualClock
from fakes.cloudflare.config import (
    ACCESS_REQUESTS,
    ACCOUNT_SETTINGS_READ,
    ALL_PERMISSIONS,
    AUDIT_LOGS,
    AUDIT_LOGS_READ,
    DEFAULT_TOKEN,
    IDENTITY_PROVIDERS_READ,
    LOG_TYPES,
    SCIM_LOGS_READ,
    SCIM_UPDATES,
    Credential,
    DataProfile,
    RateLimit,
    SimulatorConfig,
)
from fakes.cloudflare.faults import Fault, FaultKind, FaultPlan
from fakes.cloudflare.observations import ReceivedRequest, SimulatorStats
from fakes.cloudflare.server import BASE_PATH, Simulator

__all__ = [
    "ACCESS_REQUESTS",
    "ACCOUNT_SETTINGS_READ",
    "ALL_PERMISSIONS",
    "AUDIT_LOGS",
    "AUDIT_LOGS_READ",
    "BASE_PATH",
    "DEFAULT_TOKEN",
    "IDENTITY_PROVIDERS_READ",
    "LOG_TYPES",
    "SCIM_LOGS_READ",
    "SCIM_UPDATES",
    "Credential",
    "DataProfile",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "ManualClock",
    "RateLimit",
    "ReceivedRequest",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "SimulatorThread",
]
