"""The OpenAPI contract check, the rate limiter and the fault plan, without a socket."""

from __future__ import annotations

import pytest

from fakes.cloudflare import Fault, FaultKind, FaultPlan, ManualClock, RateLimit
from fakes.cloudflare.config import AUDIT_LOGS_READ, IDENTITY_PROVIDERS_READ, SCIM_LOGS_READ
from fakes.cloudflare.openapi_contract import load_operations
from fakes.cloudflare.rate_limit import RateLimiter

OPERATIONS = load_operations()


def test_permissions_come_from_the_spec() -> None:
    assert OPERATIONS["access_requests"].permissions == (AUDIT_LOGS_READ,)
    assert OPERATIONS["scim_updates"].permissions == (SCIM_LOGS_READ,)
    assert IDENTITY_PROVIDERS_READ in OPERATIONS["identity_providers"].permissions


@pytest.mark.parametrize(
    "pairs",
    [
        [
            ("since", "2025-01-01T00:00:00Z"),
            ("until", "2025-01-01T01:00:00.123456789Z"),
            ("direction", "asc"),
        ],
        [
            ("limit", "25"),
            ("page", "3"),
            ("per_page", "100"),
            ("email", "@example.com"),
            ("emailOp", "contains"),
        ],
        [
            ("fields", "ray_id,created_at"),
            ("email_exact", "true"),
            ("user_id", "f757c5c3-c1b2-50f7-9126-150a099b6f7e"),
        ],
    ],
)
def test_access_requests_queries_that_keep_the_contract(pairs: list[tuple[str, str]]) -> None:
    assert OPERATIONS["access_requests"].query_problems(pairs) == []


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        ([("cursor", "x")], "unknown query parameter 'cursor'"),
        ([("per_page", "ten")], "per_page: 'ten' is not an integer"),
        ([("direction", "up")], "direction: 'up' is not one of desc, asc"),
        ([("since", "2025-01-01 00:00:00")], "since: '2025-01-01 00:00:00' is not an RFC 3339 date-time"),
        ([("until", "1735689600")], "until: '1735689600' is not an RFC 3339 date-time"),
        ([("page", "1"), ("page", "2")], "page: given 2 times but is not an array"),
        ([("email_exact", "yes")], "email_exact: 'yes' is not true or false"),
    ],
)
def test_access_requests_violations(pairs: list[tuple[str, str]], problem: str) -> None:
    assert OPERATIONS["access_requests"].query_problems(pairs) == [problem]


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        ([], "idp_id: required but missing"),
        ([("idp_id", "a"), ("per_page", "1001")], "per_page: 1001 is greater than the maximum 1000"),
        ([("idp_id", "a,b")], "idp_id: 'a,b' looks comma-joined; repeat the key per value"),
        (
            [("idp_id", "a"), ("status", "FAILURE,SUCCESS")],
            "status: 'FAILURE,SUCCESS' is not one of FAILURE, SUCCESS",
        ),
        ([("idp_id", "a"), ("resource_type", "user")], "resource_type: 'user' is not one of USER, GROUP"),
        ([("idp_id[]", "a"), ("idp_id", "b")], "unknown query parameter 'idp_id[]'"),
    ],
)
def test_scim_updates_violations(pairs: list[tuple[str, str]], problem: str) -> None:
    assert OPERATIONS["scim_updates"].query_problems(pairs) == [problem]


def test_repeated_idp_id_keeps_the_contract() -> None:
    pairs = [
        ("idp_id", "a"),
        ("idp_id", "b"),
        ("status", "FAILURE"),
        ("status", "SUCCESS"),
        ("per_page", "1000"),
    ]
    assert OPERATIONS["scim_updates"].query_problems(pairs) == []


def test_account_id_longer_than_32_is_a_violation() -> None:
    assert OPERATIONS["scim_updates"].path_problems("account_id", "0" * 33) == [
        f"path parameter account_id: '{'0' * 33}' is longer than 32 characters"
    ]


def test_limiter_counts_then_blocks_then_forgives() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(RateLimit(requests=2, period=10.0, block=30.0), clock)
    first, second, third = (limiter.spend("a") for _ in range(3))
    assert (first.allowed, first.remaining, second.allowed, second.remaining) == (True, 1, True, 0)
    assert (third.allowed, third.retry_after, third.started_block) == (False, 30, True)
    assert limiter.spend("b").allowed, "another credential has its own budget"
    clock.advance(29.5)
    refused = limiter.spend("a")
    assert (refused.allowed, refused.retry_after, refused.started_block) == (False, 1, False)
    clock.advance(0.5)
    assert limiter.spend("a").remaining == 1, "the whole budget is back after the block"


def test_limiter_window_slides() -> None:
    clock = ManualClock(0.0)
    limiter = RateLimiter(RateLimit(requests=2, period=10.0, block=30.0), clock)
    limiter.spend("a")
    clock.advance(6)
    assert limiter.spend("a").reset == 4, "the oldest request leaves the window in 4 s"
    clock.advance(4)
    assert limiter.spend("a").allowed


def test_time_scale_compresses_what_clients_are_told() -> None:
    limiter = RateLimiter(
        RateLimit(requests=1, period=300.0, block=300.0, time_scale=100.0), ManualClock(0.0)
    )
    allowed = limiter.spend("a")
    refused = limiter.spend("a")
    assert allowed.headers()["Ratelimit-Policy"] == '"default";q=1;w=3'
    assert refused.headers()["Retry-After"] == "3"


def test_fault_counts_and_paths() -> None:
    clock = ManualClock(0.0)
    plan = FaultPlan(clock)
    plan.add(Fault.server_error(503, count=2, path="*/scim/updates"))
    plan.add(Fault.slow(0.25, count=None))
    assert plan.take("/accounts/x/access/logs/access_requests").answer is None
    first = plan.take("/accounts/x/access/logs/scim/updates")
    assert first.answer is not None
    assert (first.answer.status, first.delay) == (503, 0.25)
    assert plan.take("/accounts/x/access/logs/scim/updates").answer is not None
    assert plan.take("/accounts/x/access/logs/scim/updates").answer is None
    assert [active.fault.kind for active in plan.active()] == [FaultKind.SLOW]


def test_block_fault_counts_down_and_expires() -> None:
    clock = ManualClock(0.0)
    plan = FaultPlan(clock)
    plan.add(Fault.block(10.0))
    assert plan.take("/x").retry_after == 10
    clock.advance(7.5)
    assert plan.take("/x").retry_after == 3
    clock.advance(2.5)
    assert plan.take("/x").answer is None


def test_fault_from_json_validates() -> None:
    assert Fault.from_json({"kind": "block", "duration": 5}) == Fault.block(5)
    assert Fault.from_json({"kind": "ignore_page"}) == Fault.ignore_page()
    for bad in ({"kind": "earthquake"}, {"count": 1}, {"kind": "slow", "speed": 1}, {"kind": "block"}):
        with pytest.raises(ValueError, match=r"."):
            Fault.from_json(bad)
