"""Lease leader election against the fake API: one leader, hand-over on expiry or release, partitions.

Timings are short (a 1 s lease); assertions are about the protocol's own deadlines, measured on
the candidates' clocks and in the fake's write log, never about how fast the machine is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from forwarder.kubernetes.api import KubernetesConfigurationError
from forwarder.kubernetes.leader import LeaderElector, LeadershipLost, LeaseTimings, micro_time
from tests.fakes.kubernetes_api import FakeKubernetesApi
from tests.unit.kubernetes_support import NAMESPACE, client, fake_api

LEASE = "forwarder"
TIMINGS = LeaseTimings(duration=1.0, renew_deadline=0.6, retry_period=0.15)


@asynccontextmanager
async def candidate(fake: FakeKubernetesApi, tmp_path: Path, name: str) -> AsyncIterator[LeaderElector]:
    elector = LeaderElector(client(fake, tmp_path, f"token-{name}", timeout=0.3), LEASE, name, TIMINGS)
    campaign = asyncio.create_task(elector.run())
    elector.campaign = campaign  # type: ignore[attr-defined]
    try:
        yield elector
    finally:
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
        await elector.api.close()


def holder(fake: FakeKubernetesApi) -> str | None:
    lease = fake.get("leases", NAMESPACE, LEASE)
    return lease["spec"]["holderIdentity"] if lease else None


async def test_one_candidate_creates_the_lease_and_renews_it(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a:
        term = await a.leading()
        assert a.is_leader()
        a.ensure_leading()
        lease = fake.get("leases", NAMESPACE, LEASE)
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == "a"
        assert lease["spec"]["leaseDurationSeconds"] == 1
        assert lease["spec"]["leaseTransitions"] == 0
        await asyncio.sleep(TIMINGS.retry_period * 4)
        renewals = fake.writes_of("leases", LEASE)
        assert len(renewals) >= 3
        assert len({write.object["spec"]["renewTime"] for write in renewals}) == len(renewals)
        assert {write.object["spec"]["acquireTime"] for write in renewals} == {lease["spec"]["acquireTime"]}
        assert not term.lost.is_set()


async def test_two_candidates_one_leader(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a, candidate(fake, tmp_path, "b") as b:
        await asyncio.wait(
            [asyncio.create_task(a.leading()), asyncio.create_task(b.leading())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        for _ in range(10):
            await asyncio.sleep(TIMINGS.retry_period)
            assert a.is_leader() != b.is_leader()
        assert holder(fake) == ("a" if a.is_leader() else "b")
        assert {write.object["spec"]["holderIdentity"] for write in fake.writes_of("leases", LEASE)} == {
            holder(fake)
        }


async def test_a_dead_leader_is_replaced_only_after_the_lease_duration(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a:
        await a.leading()
        async with candidate(fake, tmp_path, "b") as b:
            await asyncio.sleep(TIMINGS.retry_period * 3)
            assert not b.is_leader()
            # The leader dies without a word (SIGKILL): its campaign stops, the lease stays.
            a.campaign.cancel()  # type: ignore[attr-defined]
            await asyncio.gather(a.campaign, return_exceptions=True)  # type: ignore[attr-defined]
            last_renewal = fake.writes_of("leases", LEASE)[-1].time
            term = await b.leading()
            taken = fake.writes_of("leases", LEASE)[-1]
            assert taken.object["spec"]["holderIdentity"] == "b"
            assert taken.object["spec"]["leaseTransitions"] == 1
            assert taken.time >= last_renewal + TIMINGS.duration
            assert not term.lost.is_set()


async def test_a_released_lease_is_taken_over_at_once(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a:
        await a.leading()
        async with candidate(fake, tmp_path, "b") as b:
            await asyncio.sleep(TIMINGS.retry_period * 3)
            a.campaign.cancel()  # type: ignore[attr-defined]
            await asyncio.gather(a.campaign, return_exceptions=True)  # type: ignore[attr-defined]
            await a.release()
            released = fake.writes_of("leases", LEASE)[-1]
            assert released.object["spec"]["holderIdentity"] is None
            assert not a.is_leader()
            with pytest.raises(LeadershipLost):
                a.ensure_leading()
            await b.leading()
            taken = fake.writes_of("leases", LEASE)[-1]
            # Before the old lease could have expired: the release handed it over.
            assert taken.time < released.time + TIMINGS.duration
            assert taken.object["spec"]["holderIdentity"] == "b"


async def test_a_partitioned_leader_stops_before_anyone_else_may_start(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a, candidate(fake, tmp_path, "b") as b:
        first = await asyncio.wait(
            [asyncio.create_task(a.leading()), asyncio.create_task(b.leading())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        term = next(iter(first[0])).result()
        leader, other = (a, b) if a.is_leader() else (b, a)
        await asyncio.sleep(TIMINGS.retry_period * 2)
        fake.partition(f"token-{leader.identity}")
        partitioned_at = time.time()
        await term.lost.wait()
        lost_at = time.time()
        last_renewal = [w for w in fake.writes_of("leases", LEASE) if w.token == f"token-{leader.identity}"][
            -1
        ]
        # The leader gave up within its renew deadline of the last renewal that reached the API ...
        assert lost_at < last_renewal.time + TIMINGS.duration
        assert not leader.is_leader()
        await other.leading()
        taken = fake.writes_of("leases", LEASE)[-1]
        # ... which is before the other could take over.
        assert taken.object["spec"]["holderIdentity"] == other.identity
        assert lost_at < taken.time
        assert partitioned_at < lost_at
        # Healed, the old leader finds the lease held and stays a candidate.
        fake.heal(f"token-{leader.identity}")
        await asyncio.sleep(TIMINGS.duration)
        assert other.is_leader()
        assert not leader.is_leader()


async def test_latency_below_the_renew_deadline_keeps_the_leader(tmp_path: Path) -> None:
    async with fake_api(latency=TIMINGS.retry_period / 2) as fake, candidate(fake, tmp_path, "a") as a:
        term = await a.leading()
        await asyncio.sleep(TIMINGS.duration * 2)
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_conflicting_writes_are_read_again(tmp_path: Path) -> None:
    async with fake_api() as fake, candidate(fake, tmp_path, "a") as a:
        term = await a.leading()
        fake.conflict_next("leases", LEASE, count=1)
        await asyncio.sleep(TIMINGS.retry_period * 4)
        assert 409 in [request.status for request in fake.requests if request.method == "PUT"]
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_a_lease_held_by_someone_else_is_respected_until_it_expires(tmp_path: Path) -> None:
    async with fake_api() as fake:
        from datetime import UTC, datetime

        now = micro_time(datetime.now(UTC))
        spec = {"holderIdentity": "someone", "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}
        fake.put_object("leases", NAMESPACE, {"metadata": {"name": LEASE}, "spec": spec})
        placed = time.time()
        async with candidate(fake, tmp_path, "a") as a:
            await a.leading()
            assert time.time() >= placed + 1
            assert holder(fake) == "a"


async def test_a_forbidden_lease_ends_the_campaign_with_the_reason(tmp_path: Path) -> None:
    async with fake_api(forbidden={"token-a"}) as fake, candidate(fake, tmp_path, "a") as a:
        with pytest.raises(
            KubernetesConfigurationError,
            match=r'cannot get resource "leases" in API group "coordination\.k8s\.io"',
        ):
            await a.campaign  # type: ignore[attr-defined]


def test_timings_that_could_overlap_two_leaders_are_refused() -> None:
    assert LeaseTimings(15, 10, 2).problems() == []
    problems = LeaseTimings(10, 10, 2).problems()
    assert len(problems) == 1
    assert problems[0].startswith("FORWARDER_LEASE_RENEW_DEADLINE")
    assert LeaseTimings(15, 10, 9).problems()[0].startswith("FORWARDER_LEASE_RETRY_PERIOD")


def test_micro_time_has_six_fractional_digits() -> None:
    from datetime import UTC, datetime

    assert micro_time(datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2025-01-02T03:04:05.000006Z"
