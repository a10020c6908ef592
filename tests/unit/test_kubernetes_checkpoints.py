"""The ConfigMap checkpoint store against the fake API: create, merge, conflicts, never backwards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forwarder.checkpoints.kubernetes import ConfigMapCheckpointStore
from forwarder.kubernetes.api import KubernetesConfigurationError
from forwarder.kubernetes.guarded import LeaderGuardedCheckpoints
from forwarder.kubernetes.leader import LeaderElector, LeadershipLost, LeaseTimings
from forwarder.retry import Backoff
from tests.unit.kubernetes_support import NAMESPACE, client, fake_api

NAME = "forwarder-checkpoints"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
ACCESS = f"{ACCOUNT}/access_requests"
SCIM = f"{ACCOUNT}/scim_updates"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FAST = Backoff(0.01, 0.05)


def store(fake: object, tmp_path: Path, token: str = "token-a") -> ConfigMapCheckpointStore:
    return ConfigMapCheckpointStore(client(fake, tmp_path, token), NAME, backoff=FAST)  # type: ignore[arg-type]


async def test_the_first_commit_creates_the_config_map_and_a_new_store_reads_it(tmp_path: Path) -> None:
    async with fake_api() as fake:
        first = store(fake, tmp_path)
        assert await first.load(ACCESS) is None
        await first.commit(ACCESS, T0)
        await first.close()
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {f"{ACCOUNT}.access_requests": T0.isoformat()}
        assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cloudflare-siem-forwarder"}
        # A rescheduled pod: a new process, a new store.
        second = store(fake, tmp_path)
        assert await second.load(ACCESS) == T0
        assert await second.load(SCIM) is None
        await second.close()


async def test_positions_never_move_backwards(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.commit(ACCESS, T0 + timedelta(minutes=5))
        await checkpoints.commit(ACCESS, T0)
        assert await checkpoints.load(ACCESS) == T0 + timedelta(minutes=5)
        # The older position was not even written.
        assert len(fake.writes_of("configmaps", NAME)) == 1
        await checkpoints.close()


async def test_a_conflict_is_read_again_and_merged_not_overwritten(tmp_path: Path) -> None:
    async with fake_api() as fake:
        ours, theirs = store(fake, tmp_path, "token-a"), store(fake, tmp_path, "token-b")
        await ours.commit(ACCESS, T0)
        # Another shard writes its own stream: our cached resourceVersion is now stale.
        await theirs.commit(SCIM, T0 + timedelta(hours=1))
        await ours.commit(ACCESS, T0 + timedelta(minutes=1))
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {
            f"{ACCOUNT}.access_requests": (T0 + timedelta(minutes=1)).isoformat(),
            f"{ACCOUNT}.scim_updates": (T0 + timedelta(hours=1)).isoformat(),
        }
        statuses = [request.status for request in fake.requests if request.method == "PUT"]
        assert 409 in statuses
        await ours.close()
        await theirs.close()


async def test_a_later_position_written_by_another_replica_wins_over_ours(tmp_path: Path) -> None:
    """A leader that just lost its lease may still land a commit; whoever writes last, the later stays."""
    async with fake_api() as fake:
        new_leader, old_leader = store(fake, tmp_path, "token-a"), store(fake, tmp_path, "token-b")
        await new_leader.commit(ACCESS, T0)
        await old_leader.commit(ACCESS, T0 + timedelta(minutes=10))
        await new_leader.commit(ACCESS, T0 + timedelta(minutes=2))
        assert await new_leader.load(ACCESS) == T0 + timedelta(minutes=10)
        await new_leader.close()
        await old_leader.close()


async def test_injected_conflicts_are_retried_until_the_write_lands(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.commit(ACCESS, T0)
        fake.conflict_next("configmaps", NAME, count=3)
        await checkpoints.commit(ACCESS, T0 + timedelta(minutes=1))
        assert [r.status for r in fake.requests if r.method == "PUT"] == [409, 409, 409, 200]
        assert await checkpoints.load(ACCESS) == T0 + timedelta(minutes=1)
        await checkpoints.close()


async def test_two_stores_racing_to_create_both_land(tmp_path: Path) -> None:
    async with fake_api(latency=0.05) as fake:
        one, two = store(fake, tmp_path, "token-a"), store(fake, tmp_path, "token-b")
        await asyncio.gather(one.commit(ACCESS, T0), two.commit(SCIM, T0))
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert set(stored["data"]) == {f"{ACCOUNT}.access_requests", f"{ACCOUNT}.scim_updates"}
        assert any(r.status == 409 for r in fake.requests if r.method == "POST")
        await one.close()
        await two.close()


async def test_commits_arriving_during_a_write_go_out_together(tmp_path: Path) -> None:
    async with fake_api(latency=0.05) as fake:
        checkpoints = store(fake, tmp_path)
        streams = [f"{ACCOUNT[:-2]}{index:02d}/access_requests" for index in range(20)]
        await asyncio.gather(*(checkpoints.commit(stream, T0) for stream in streams))
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert len(stored["data"]) == 20
        assert len(fake.writes_of("configmaps", NAME)) < 20
        await checkpoints.close()


async def test_a_missing_permission_is_reported_at_start_naming_the_setting(tmp_path: Path) -> None:
    async with fake_api(forbidden={"token-a"}) as fake:
        checkpoints = store(fake, tmp_path)
        with pytest.raises(KubernetesConfigurationError) as raised:
            await checkpoints.check()
        await checkpoints.close()
    text = str(raised.value)
    assert "FORWARDER_KUBERNETES_CONFIGMAP" in text
    assert "cannot get resource" in text
    assert "token-a" not in text


async def test_an_api_that_answers_500_is_retried(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        # The ConfigMap exists but is unreadable for a moment: a stand-in for an API server restart.
        fake.forbidden.clear()
        original = fake._answer
        failures = iter([True, True])

        def flaky(method: str, path: str, body: bytes, token: str | None):  # type: ignore[no-untyped-def]
            if next(failures, False):
                return fake._status(500, "InternalError", "etcdserver: leader changed")
            return original(method, path, body, token)

        fake._answer = flaky  # type: ignore[method-assign]
        await checkpoints.commit(ACCESS, T0)
        assert [r.status for r in fake.requests] == [500, 500, 404, 201]
        await checkpoints.close()


async def test_a_garbled_position_is_an_error_not_a_silent_restart(tmp_path: Path) -> None:
    async with fake_api() as fake:
        fake.put_object(
            "configmaps",
            NAMESPACE,
            {"metadata": {"name": NAME}, "data": {f"{ACCOUNT}.access_requests": "yesterday"}},
        )
        checkpoints = store(fake, tmp_path)
        with pytest.raises(KubernetesConfigurationError, match="not an RFC 3339 time"):
            await checkpoints.load(ACCESS)
        await checkpoints.close()


async def test_only_the_lease_holder_may_commit(tmp_path: Path) -> None:
    async with fake_api() as fake:
        elector = LeaderElector(client(fake, tmp_path, "token-l"), "lease", "me", LeaseTimings(1, 0.6, 0.15))
        guarded = LeaderGuardedCheckpoints(store(fake, tmp_path), elector)
        with pytest.raises(LeadershipLost):
            await guarded.commit(ACCESS, T0)
        campaign = asyncio.create_task(elector.run())
        await elector.leading()
        await guarded.commit(ACCESS, T0)
        assert await guarded.load(ACCESS) == T0
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
        await elector.release()
        with pytest.raises(LeadershipLost):
            await guarded.commit(ACCESS, T0 + timedelta(minutes=1))
        assert await guarded.load(ACCESS) == T0
        await elector.api.close()
        await guarded.inner.close()  # type: ignore[attr-defined]


async def test_remembered_ids_go_to_binary_data_in_the_same_write(tmp_path: Path) -> None:
    remembered = b"v1 -\n" + bytes(range(16))
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.commit(ACCESS, T0, remembered)
        # The same position with new ids (a re-read found late rows) is written too; an older one is not.
        await checkpoints.commit(ACCESS, T0, remembered + bytes(8))
        await checkpoints.commit(ACCESS, T0 - timedelta(minutes=1), b"v1 -\n")
        await checkpoints.close()
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {f"{ACCOUNT}.access_requests": T0.isoformat()}
        assert set(stored["binaryData"]) == {f"{ACCOUNT}.access_requests.remembered"}
        assert len(fake.writes_of("configmaps", NAME)) == 2
        again = store(fake, tmp_path)
        assert await again.load(ACCESS) == T0
        assert await again.load_remembered(ACCESS) == remembered + bytes(8)
        assert await again.load_remembered(SCIM) is None
        await again.close()
