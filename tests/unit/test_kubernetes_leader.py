"""Lease leader election against the fake API, on a virtual clock: one leader, hand-over on expiry or
release, partitions, conflicts and transient errors.

Every candidate and the fake API share a :class:`VirtualClock` (the fake answers in-process), so
time moves only when everything waits on it: the assertions are about the protocol's own
deadlines, exactly, never about how fast the machine is. Timings are short (a 1 s lease).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from fakes.kubernetes_api import FakeKubernetesApi, ReceivedRequest, Write
from forwarder.coordination.api import KubernetesConfigurationError
from forwarder.coordination.leader import LeaderElector, LeadershipLost, LeaseTimings, micro_time
from tests.unit.kubernetes_support import NAMESPACE, VirtualClock, client

LEASE = "forwarder"
TIMINGS = LeaseTimings(duration=1.0, renew_deadline=0.6, retry_period=0.15)
# A standby sees a renewal at most one (jittered) retry period late, and tries to acquire at most
# one such period after the lease expired.
HAND_OVER_BOUND = TIMINGS.duration + 2 * 1.2 * TIMINGS.retry_period
EPSILON = 1e-9


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock: VirtualClock) -> FakeKubernetesApi:
    return FakeKubernetesApi(clock=clock, sleep=clock.sleep)


def elector(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path, name: str, timeout: float = 0.3
) -> LeaderElector:
    api = client(fake, tmp_path, token(name), timeout=timeout, in_process=True)
    return LeaderElector(api, LEASE, name, TIMINGS, clock=clock, sleep=clock.sleep, wall_clock=clock.wall)


@asynccontextmanager
async def candidate(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path, name: str, timeout: float = 0.3
) -> AsyncIterator[LeaderElector]:
    campaigner = elector(fake, clock, tmp_path, name, timeout)
    campaign = asyncio.create_task(campaigner.run())
    campaigner.campaign = campaign  # type: ignore[attr-defined]
    try:
        yield campaigner
    finally:
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
        await campaigner.api.close()


def token(name: str) -> str:
    return f"token-{name}"


def holder(fake: FakeKubernetesApi) -> str | None:
    lease = fake.get("leases", NAMESPACE, LEASE)
    return lease["spec"]["holderIdentity"] if lease else None


def lease_writes_by(fake: FakeKubernetesApi, name: str) -> list[Write]:
    return [write for write in fake.writes_of("leases", LEASE) if write.token == token(name)]


def requests_by(fake: FakeKubernetesApi, name: str, since: float = -1.0) -> list[ReceivedRequest]:
    """``name``'s requests that arrived after ``since``."""
    return [request for request in fake.requests if request.token == token(name) and request.time > since]


async def stop(campaigner: LeaderElector) -> None:
    campaign: asyncio.Task[None] = campaigner.campaign  # type: ignore[attr-defined]
    campaign.cancel()
    await asyncio.gather(campaign, return_exceptions=True)


# -- the protocol ------------------------------------------------------------------------------------


async def test_one_candidate_creates_the_lease_and_renews_it_every_retry_period(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        a.ensure_leading()
        lease = fake.get("leases", NAMESPACE, LEASE)
        assert lease is not None
        assert lease["spec"]["holderIdentity"] == "a"
        assert lease["spec"]["leaseDurationSeconds"] == 1
        assert lease["spec"]["leaseTransitions"] == 0
        await clock.run_for(TIMINGS.retry_period * 4 + 0.01)
        writes = fake.writes_of("leases", LEASE)
        assert [write.method for write in writes] == ["POST", "PUT", "PUT", "PUT", "PUT"]
        gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(writes)]
        assert gaps == pytest.approx([TIMINGS.retry_period] * 4)
        assert len({write.object["spec"]["renewTime"] for write in writes}) == len(writes)
        assert {write.object["spec"]["acquireTime"] for write in writes} == {lease["spec"]["acquireTime"]}
        assert not term.lost.is_set()


async def test_two_candidates_one_leader(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a, candidate(fake, clock, tmp_path, "b") as b:
        await clock.run_until(lambda: a.is_leader() or b.is_leader(), within=1)
        end = clock.now + TIMINGS.retry_period * 10
        while clock.now < end:
            await clock.step()
            assert a.is_leader() != b.is_leader()
        assert holder(fake) == ("a" if a.is_leader() else "b")
        assert {write.object["spec"]["holderIdentity"] for write in fake.writes_of("leases", LEASE)} == {
            holder(fake)
        }


async def test_a_dead_leader_is_replaced_only_after_the_lease_duration(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        async with candidate(fake, clock, tmp_path, "b") as b:
            await clock.run_for(TIMINGS.retry_period * 3)
            assert not b.is_leader()
            # The leader dies without a word (SIGKILL): its campaign stops, the lease stays.
            await stop(a)
            last_renewal = fake.writes_of("leases", LEASE)[-1].time
            await clock.run_until(b.is_leader, within=3)
            taken = fake.writes_of("leases", LEASE)[-1]
            assert taken.object["spec"]["holderIdentity"] == "b"
            assert taken.object["spec"]["leaseTransitions"] == 1
            assert last_renewal + TIMINGS.duration <= taken.time <= last_renewal + HAND_OVER_BOUND
            assert b.term is not None
            assert not b.term.lost.is_set()


async def test_a_released_lease_is_taken_over_at_once(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        async with candidate(fake, clock, tmp_path, "b") as b:
            await clock.run_for(TIMINGS.retry_period * 3)
            await stop(a)
            await a.release()
            released = fake.writes_of("leases", LEASE)[-1]
            assert released.object["spec"]["holderIdentity"] is None
            assert not a.is_leader()
            with pytest.raises(LeadershipLost):
                a.ensure_leading()
            await clock.run_until(b.is_leader, within=1)
            taken = fake.writes_of("leases", LEASE)[-1]
            # At b's next round, long before the old lease could have expired.
            assert taken.time <= released.time + 1.2 * TIMINGS.retry_period
            assert taken.object["spec"]["holderIdentity"] == "b"


@pytest.mark.parametrize("mode", ["timeout", "refuse"])
async def test_a_partitioned_leader_steps_down_before_another_may_take_its_lease(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path, mode: str
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a, candidate(fake, clock, tmp_path, "b") as b:
        await clock.run_until(lambda: a.is_leader() or b.is_leader(), within=1)
        leader, other = (a, b) if a.is_leader() else (b, a)
        term = leader.term
        assert term is not None
        await clock.run_for(TIMINGS.retry_period * 2)
        fake.partition(token(leader.identity), mode=mode)  # type: ignore[arg-type]
        partitioned_at = clock.now
        lost_at = await clock.run_until(term.lost.is_set, within=TIMINGS.duration)
        last_renewal = lease_writes_by(fake, leader.identity)[-1]
        # The leader gave up by its renew deadline, counted from the last renewal that reached the API
        # (which started no later than it landed) ...
        assert partitioned_at < lost_at <= last_renewal.time + TIMINGS.renew_deadline + EPSILON
        assert not leader.is_leader()
        taken_at = await clock.run_until(other.is_leader, within=HAND_OVER_BOUND)
        taken = fake.writes_of("leases", LEASE)[-1]
        # ... which is before the other could take over: not until the lease duration had passed.
        assert taken.object["spec"]["holderIdentity"] == other.identity
        assert taken.time == taken_at
        assert taken.time >= last_renewal.time + TIMINGS.duration
        assert lost_at < taken.time
        # Since it stepped down, the cut-off leader has only asked as a candidate: nothing it wrote landed.
        assert all(write.time < lost_at for write in lease_writes_by(fake, leader.identity))
        # Healed, the old leader finds the lease held and stays a candidate.
        fake.heal(token(leader.identity))
        await clock.run_for(TIMINGS.duration)
        assert other.is_leader()
        assert not leader.is_leader()


async def test_latency_below_the_renew_deadline_keeps_the_leader(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.latency = TIMINGS.retry_period / 2
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        await clock.run_for(TIMINGS.duration * 2)
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_a_lease_held_by_someone_else_is_respected_until_it_expires(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    now = micro_time(clock.wall())
    spec = {"holderIdentity": "someone", "leaseDurationSeconds": 1, "renewTime": now, "acquireTime": now}
    fake.put_object("leases", NAMESPACE, {"metadata": {"name": LEASE}, "spec": spec})
    placed = clock.now
    async with candidate(fake, clock, tmp_path, "a") as a:
        led_at = await clock.run_until(a.is_leader, within=3)
        assert placed + 1 <= led_at <= placed + 1 + 1.2 * TIMINGS.retry_period
        assert holder(fake) == "a"


# -- renewals: conflicts, deletions, transient errors, deadlines -------------------------------------


async def test_a_conflict_on_renewal_is_read_again_and_retried_in_the_same_attempt(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    """As client-go: a 409 is followed at once by a fresh read and a second write, not a retry period
    later. With this latency, waiting a retry period after each conflict would miss the deadline."""
    fake.latency = 0.05
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        fake.conflict_next("leases", LEASE, count=2)
        since = clock.now
        await clock.run_until(
            lambda: len(fake.writes_of("leases", LEASE)) >= 2, within=TIMINGS.renew_deadline
        )
        attempt = requests_by(fake, "a", since)
        assert [(request.method, request.status) for request in attempt] == [
            ("PUT", 409),
            ("GET", 200),
            ("PUT", 409),
            ("GET", 200),
            ("PUT", 200),
        ]
        # One request right after another: no pause between them.
        gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(attempt)]
        assert gaps == pytest.approx([fake.latency] * 4)
        await clock.run_for(TIMINGS.duration * 2)
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_a_lease_deleted_during_a_term_is_created_again_and_the_term_goes_on(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        assert fake.delete("leases", NAMESPACE, LEASE)
        since = clock.now
        await clock.run_until(lambda: fake.get("leases", NAMESPACE, LEASE) is not None, within=1)
        assert [(r.method, r.status) for r in requests_by(fake, "a", since)] == [
            ("PUT", 404),
            ("GET", 404),
            ("POST", 201),
        ]
        assert holder(fake) == "a"
        await clock.run_for(TIMINGS.duration)
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_a_lease_taken_by_another_ends_the_term_at_once(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        current = fake.get("leases", NAMESPACE, LEASE)
        assert current is not None
        # Someone else writes it (an operator, a replica with a wrong clock): our next write conflicts.
        fake.put_object("leases", NAMESPACE, {**current, "spec": {**current["spec"], "holderIdentity": "b"}})
        taken_at = clock.now
        lost_at = await clock.run_until(term.lost.is_set, within=TIMINGS.renew_deadline)
        # At the next renewal, on reading it again: not at the deadline.
        assert lost_at <= taken_at + TIMINGS.retry_period + EPSILON
        assert holder(fake) == "b"
        assert all(write.object["spec"]["holderIdentity"] == "a" for write in lease_writes_by(fake, "a"))


async def test_transient_errors_on_renewal_are_retried_with_backoff_within_the_deadline(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        since = clock.now
        fake.fail_next(500, method="PUT", plural="leases", count=1)
        fake.reset_next(method="PUT", plural="leases", count=1)
        fake.fail_next(503, method="PUT", plural="leases", count=1)
        await clock.run_until(
            lambda: len(fake.writes_of("leases", LEASE)) >= 2, within=TIMINGS.renew_deadline
        )
        attempt = requests_by(fake, "a", since)
        assert [(r.method, r.status, r.fault) for r in attempt] == [
            ("PUT", 500, ""),
            ("PUT", None, "reset"),
            ("PUT", 503, ""),
            ("PUT", 200, ""),
        ]
        # Backoff: quicker than the retry period, and never past the deadline.
        gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(attempt)]
        assert all(0 <= gap <= TIMINGS.retry_period for gap in gaps)
        await clock.run_for(TIMINGS.duration * 2)
        assert a.is_leader()
        assert not term.lost.is_set()


async def test_a_429_on_renewal_is_retried_after_its_retry_after(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        since = clock.now
        fake.fail_next(429, retry_after="0.3", method="PUT", plural="leases")
        await clock.run_until(
            lambda: len(fake.writes_of("leases", LEASE)) >= 2, within=TIMINGS.renew_deadline
        )
        throttled, renewed = requests_by(fake, "a", since)
        assert (throttled.status, renewed.status) == (429, 200)
        assert renewed.time - throttled.time == pytest.approx(0.3)
        assert not term.lost.is_set()


async def test_a_renewal_that_cannot_succeed_ends_the_term_by_the_deadline(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        last_renewal = fake.writes_of("leases", LEASE)[-1].time
        fake.fail_next(500, method="PUT", plural="leases", count=10_000)
        lost_at = await clock.run_until(term.lost.is_set, within=TIMINGS.duration)
        # Retried until the backoff could no longer fit before the deadline (at most a retry period).
        deadline = last_renewal + TIMINGS.renew_deadline
        assert deadline - TIMINGS.retry_period <= lost_at <= deadline + EPSILON
        assert len([r for r in requests_by(fake, "a", last_renewal) if r.time < lost_at]) > 2
        assert not a.is_leader()


async def test_a_retry_after_beyond_the_deadline_is_not_cut_short(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        last_renewal = fake.writes_of("leases", LEASE)[-1].time
        fake.fail_next(429, retry_after="5", method="PUT", plural="leases")
        lost_at = await clock.run_until(term.lost.is_set, within=TIMINGS.duration)
        assert lost_at <= last_renewal + TIMINGS.renew_deadline + EPSILON
        # Asked to wait 5 s, it did not ask again before the term ended.
        assert [r.status for r in requests_by(fake, "a", last_renewal + EPSILON) if r.time <= lost_at] == [
            429
        ]


@pytest.mark.parametrize("timeout", [0.3, 5.0])
async def test_renewal_requests_are_cut_off_at_the_timeout_or_the_deadline(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path, timeout: float
) -> None:
    """min(FORWARDER_KUBERNETES_REQUEST_TIMEOUT, time left): a hung renewal never outlives the term."""
    async with candidate(fake, clock, tmp_path, "a", timeout=timeout) as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        last_renewal = fake.writes_of("leases", LEASE)[-1].time
        deadline = last_renewal + TIMINGS.renew_deadline
        fake.partition(token("a"))
        lost_at = await clock.run_until(term.lost.is_set, within=TIMINGS.duration)
        assert lost_at == pytest.approx(deadline)
        # Those of the term (a candidate again, it asks anew from the moment the term ended).
        hung = [request for request in requests_by(fake, "a", last_renewal) if request.time < lost_at]
        assert hung[0].time == pytest.approx(last_renewal + TIMINGS.retry_period)
        if timeout < TIMINGS.renew_deadline - TIMINGS.retry_period:
            # Cut off after the timeout and tried again with what was left.
            assert len(hung) >= 2
            assert hung[1].time >= hung[0].time + timeout
        else:
            # One request, given the time left before the deadline, not the whole timeout.
            assert len(hung) == 1


async def test_losing_the_rbac_permission_ends_the_term_and_the_campaign_with_the_reason(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=1)
        term = a.term
        assert term is not None
        fake.forbidden.add(token("a"))
        campaign: asyncio.Task[None] = a.campaign  # type: ignore[attr-defined]
        await clock.run_until(campaign.done, within=TIMINGS.renew_deadline)
        assert term.lost.is_set()
        assert not a.is_leader()
        with pytest.raises(KubernetesConfigurationError, match=r'verbs: \["get", "create", "update"\]'):
            campaign.result()


# -- start-up ----------------------------------------------------------------------------------------


async def test_a_500_at_start_up_is_retried_sooner_than_a_retry_period(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.fail_next(500, method="GET", plural="leases")
    started = clock.now
    async with candidate(fake, clock, tmp_path, "a") as a:
        led_at = await clock.run_until(a.is_leader, within=1)
        assert led_at - started <= TIMINGS.retry_period
        assert [(r.method, r.status) for r in fake.requests] == [("GET", 500), ("GET", 404), ("POST", 201)]


async def test_a_timeout_at_start_up_is_retried_after_the_request_timeout(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.time_out_next(method="GET", plural="leases")
    async with candidate(fake, clock, tmp_path, "a", timeout=0.3) as a:
        await clock.run_until(a.is_leader, within=2)
        hung, read, created = fake.requests
        assert hung.fault == "timeout"
        assert read.time - hung.time >= 0.3
        assert (read.status, created.status) == (404, 201)


async def test_a_429_at_start_up_waits_as_long_as_it_asks(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.fail_next(429, retry_after="0.8", method="GET", plural="leases")
    async with candidate(fake, clock, tmp_path, "a") as a:
        await clock.run_until(a.is_leader, within=2)
        throttled, read, _ = fake.requests
        assert throttled.status == 429
        assert read.time - throttled.time == pytest.approx(0.8)


async def test_a_forbidden_lease_ends_the_campaign_naming_the_rbac_rule(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.forbidden.add(token("a"))
    async with candidate(fake, clock, tmp_path, "a") as a:
        campaign: asyncio.Task[None] = a.campaign  # type: ignore[attr-defined]
        await clock.run_until(campaign.done, within=1)
        with pytest.raises(KubernetesConfigurationError) as raised:
            campaign.result()
    text = str(raised.value)
    assert 'cannot get resource "leases" in API group "coordination.k8s.io"' in text
    assert (
        'apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"]'
        in text
    )
    assert len(fake.requests) == 1


async def test_a_missing_namespace_ends_the_campaign_naming_the_setting(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.namespaces = {"somewhere-else"}
    async with candidate(fake, clock, tmp_path, "a") as a:
        campaign: asyncio.Task[None] = a.campaign  # type: ignore[attr-defined]
        await clock.run_until(campaign.done, within=1)
        with pytest.raises(
            KubernetesConfigurationError, match="FORWARDER_KUBERNETES_NAMESPACE: the namespace 'siem'"
        ):
            campaign.result()


async def test_an_invalid_lease_ends_the_campaign_naming_the_setting(
    fake: FakeKubernetesApi, clock: VirtualClock, tmp_path: Path
) -> None:
    fake.fail_next(422, method="POST", plural="leases")
    async with candidate(fake, clock, tmp_path, "a") as a:
        campaign: asyncio.Task[None] = a.campaign  # type: ignore[attr-defined]
        await clock.run_until(campaign.done, within=1)
        with pytest.raises(KubernetesConfigurationError, match="FORWARDER_LEASE_NAME: the API refused"):
            campaign.result()


# -- settings ----------------------------------------------------------------------------------------


def test_timings_that_could_overlap_two_leaders_are_refused() -> None:
    assert LeaseTimings(15, 10, 2).problems() == []
    problems = LeaseTimings(10, 10, 2).problems()
    assert len(problems) == 1
    assert problems[0].startswith("FORWARDER_LEASE_RENEW_DEADLINE")
    assert LeaseTimings(15, 10, 9).problems()[0].startswith("FORWARDER_LEASE_RETRY_PERIOD")


def test_micro_time_has_six_fractional_digits() -> None:
    from datetime import UTC, datetime

    assert micro_time(datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2025-01-02T03:04:05.000006Z"
