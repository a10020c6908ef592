"""The default budget leaves room for a person on the dashboard: nobody is blocked, nothing is lost.

Cloudflare's 1200 requests per 300 s per user, compressed 60 times by the simulator (1200 per 5 real
seconds, a block of 5 s), with a person clicking through the dashboard with the same user (150 requests
per period). The forwarder runs with its default budget (1000 per period, paced, the server's
`Ratelimit` followed less the reserve), its period compressed alike, and reads more pages than one
period's budget. Before 0.4.0 (the whole 1200, spent in the first second) this run blocked the user.
"""

from __future__ import annotations

from pathlib import Path

from fakes.cloudflare.config import RateLimit
from fakes.cloudflare.dashboard import DashboardUser
from fakes.cloudflare.server import Simulator
from forwarder.settings import Settings
from tests.support.forwarder_runs import assert_nothing_lost, run_once, simulator_config

COMPRESSED = RateLimit(requests=1200, period=300.0, block=300.0, time_scale=60.0)


async def test_the_default_budget_leaves_the_dashboard_its_share_and_loses_nothing(tmp_path: Path) -> None:
    defaults = Settings.model_fields
    simulator = Simulator(
        simulator_config(hours=6, access_per_minute=40, scim_per_minute=0, rate_limit=COMPRESSED)
    )
    dashboard = DashboardUser(simulator, "default", requests=150)
    dashboard.start()
    try:
        forwarder, output, config = await run_once(
            simulator,
            tmp_path,
            hours=6,
            page_size=10,
            # The defaults, the period compressed as the simulator's is.
            rate_limit_requests=defaults["rate_limit_requests"].default,
            rate_limit_period=defaults["rate_limit_period"].default / COMPRESSED.time_scale,
        )
    finally:
        await dashboard.stop()
    assert config.rate_limit_requests == 1000
    assert_nothing_lost(forwarder, simulator, output, config)
    # More than one period's budget was read, so the budget bound the run.
    assert sum(simulator.stats.requests_by_endpoint.values()) > COMPRESSED.requests
    assert simulator.stats.too_many_requests == 0
    assert simulator.rate_limiter.blocks_started == 0
    assert dashboard.refused == 0
    assert dashboard.spent >= 150
