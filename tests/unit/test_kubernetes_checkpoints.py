"""The ConfigMap checkpoint store against the fake API: create, merge, conflicts, never backwards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakes.kubernetes_api.objects import status_answer
from forwarder.checkpoints.guarded import LeaderGuardedCheckpoints
from forwarder.checkpoints.kubernetes import ConfigMapCheckpointStore
from forwarder.coordination.api import KubernetesConfigurationError, KubernetesError
from forwarder.coordination.leader import LeaderElector, LeadershipLost, LeaseTimings
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
            await checkpoints.open()
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
                return status_answer(500, "InternalError", "etcdserver: leader changed")
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
        await guarded.close()


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


# -- transient errors, deletions and permanent errors ------------------------------------------------


async def test_one_500_at_start_up_is_retried(tmp_path: Path) -> None:
    async with fake_api() as fake:
        fake.fail_next(500, method="GET", plural="configmaps")
        checkpoints = store(fake, tmp_path)
        await checkpoints.open()
        assert [r.status for r in fake.requests] == [500, 404]
        await checkpoints.close()


async def test_a_timeout_and_a_reset_at_start_up_are_retried(tmp_path: Path) -> None:
    async with fake_api() as fake:
        fake.put_object("configmaps", NAMESPACE, {"metadata": {"name": NAME}, "data": {}})
        fake.time_out_next(method="GET")
        fake.reset_next(method="GET")
        checkpoints = ConfigMapCheckpointStore(client(fake, tmp_path, timeout=0.2), NAME, backoff=FAST)
        await checkpoints.open()
        assert [(r.status, r.fault) for r in fake.requests] == [(None, "timeout"), (None, "reset"), (200, "")]
        await checkpoints.close()


async def test_a_429_at_start_up_waits_its_retry_after(tmp_path: Path) -> None:
    async with fake_api() as fake:
        fake.fail_next(429, retry_after="0.3", method="GET")
        checkpoints = store(fake, tmp_path)
        await checkpoints.open()
        throttled, answered = fake.requests
        assert (throttled.status, answered.status) == (429, 404)
        assert answered.time - throttled.time >= 0.3
        await checkpoints.close()


async def test_an_api_failing_for_the_whole_start_up_budget_is_an_error_not_a_hang(tmp_path: Path) -> None:
    async with fake_api() as fake:
        fake.fail_next(503, count=10_000)
        checkpoints = ConfigMapCheckpointStore(
            client(fake, tmp_path), NAME, backoff=FAST, startup_retry_seconds=0.3
        )
        with pytest.raises(KubernetesError, match=r"kept failing for 0\.3 s at start-up") as raised:
            await checkpoints.open()
        assert not isinstance(raised.value, KubernetesConfigurationError)
        assert len(fake.requests) > 2
        await checkpoints.close()


async def test_transient_errors_during_a_commit_are_retried_until_it_lands(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = ConfigMapCheckpointStore(client(fake, tmp_path, timeout=0.2), NAME, backoff=FAST)
        await checkpoints.commit(ACCESS, T0)
        fake.fail_next(500, method="PUT")
        fake.reset_next(method="PUT")
        fake.time_out_next(method="PUT")
        fake.fail_next(429, retry_after="0.1", method="PUT")
        await checkpoints.commit(ACCESS, T0 + timedelta(minutes=1))
        assert [(r.method, r.status) for r in fake.requests if r.method == "PUT"] == [
            ("PUT", 500),
            ("PUT", None),
            ("PUT", None),
            ("PUT", 429),
            ("PUT", 200),
        ]
        assert await checkpoints.load(ACCESS) == T0 + timedelta(minutes=1)
        await checkpoints.close()


async def test_a_deleted_config_map_is_created_again_with_every_known_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_shard = "1b2c3d4e5f60718293a4b5c6d7e8f901/access_requests"
    async with fake_api() as fake:
        ours, theirs = store(fake, tmp_path, "token-a"), store(fake, tmp_path, "token-b")
        await theirs.commit(other_shard, T0 + timedelta(hours=2), b"v1 theirs")
        await ours.commit(SCIM, T0 + timedelta(hours=1), b"v1 scim")
        await ours.commit(ACCESS, T0, b"v1 access")
        # Someone deletes it (`kubectl delete`, a namespace clean-up) while the forwarder runs.
        assert fake.delete("configmaps", NAMESPACE, NAME)
        await ours.commit(ACCESS, T0 + timedelta(minutes=1), b"v1 access, later")
        assert [(r.method, r.status) for r in fake.requests[-3:]] == [
            ("PUT", 404),
            ("GET", 404),
            ("POST", 201),
        ]
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        # The pending position, and what this replica last read or wrote: the other shard's too.
        assert stored["data"] == {
            f"{ACCOUNT}.access_requests": (T0 + timedelta(minutes=1)).isoformat(),
            f"{ACCOUNT}.scim_updates": (T0 + timedelta(hours=1)).isoformat(),
            "1b2c3d4e5f60718293a4b5c6d7e8f901.access_requests": (T0 + timedelta(hours=2)).isoformat(),
        }
        assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cloudflare-siem-forwarder"}
        fresh = store(fake, tmp_path, "token-c")
        assert await fresh.load_remembered(ACCESS) == b"v1 access, later"
        assert await fresh.load_remembered(SCIM) == b"v1 scim"
        assert await fresh.load_remembered(other_shard) == b"v1 theirs"
        warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
        assert any("checkpoint ConfigMap was deleted" in message for message in warnings)
        for checkpoints in (ours, theirs, fresh):
            await checkpoints.close()


async def test_a_config_map_found_missing_on_a_fresh_read_during_a_commit_is_created_again(
    tmp_path: Path,
) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.commit(ACCESS, T0, b"v1 access")
        await checkpoints.commit(SCIM, T0)
        assert fake.delete("configmaps", NAMESPACE, NAME)
        # The write fails transiently first, so the cached copy is dropped and read afresh: a GET 404.
        fake.fail_next(500, method="PUT")
        await checkpoints.commit(SCIM, T0 + timedelta(minutes=5))
        assert [(r.method, r.status) for r in fake.requests[-3:]] == [
            ("PUT", 500),
            ("GET", 404),
            ("POST", 201),
        ]
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {
            f"{ACCOUNT}.access_requests": T0.isoformat(),
            f"{ACCOUNT}.scim_updates": (T0 + timedelta(minutes=5)).isoformat(),
        }
        assert set(stored["binaryData"]) == {f"{ACCOUNT}.access_requests.remembered"}
        await checkpoints.close()


async def test_a_config_map_recreated_by_another_replica_is_merged_never_backwards(tmp_path: Path) -> None:
    async with fake_api() as fake:
        ours = store(fake, tmp_path, "token-a")
        await ours.commit(ACCESS, T0 + timedelta(minutes=10), b"ours")
        await ours.commit(SCIM, T0)
        assert fake.delete("configmaps", NAMESPACE, NAME)
        # Another replica got there first: one stream behind what we know, one ahead.
        fake.put_object(
            "configmaps",
            NAMESPACE,
            {
                "metadata": {"name": NAME},
                "data": {
                    f"{ACCOUNT}.access_requests": T0.isoformat(),
                    f"{ACCOUNT}.scim_updates": (T0 + timedelta(hours=1)).isoformat(),
                },
            },
        )
        fake.delete("configmaps", NAMESPACE, NAME)  # deleted again before our write ...
        fake.put_object(  # ... and re-created: our PUT carries a stale resourceVersion anyway
            "configmaps",
            NAMESPACE,
            {
                "metadata": {"name": NAME},
                "data": {
                    f"{ACCOUNT}.access_requests": T0.isoformat(),
                    f"{ACCOUNT}.scim_updates": (T0 + timedelta(hours=1)).isoformat(),
                },
            },
        )
        await ours.commit(SCIM, T0 + timedelta(minutes=1))
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {
            f"{ACCOUNT}.access_requests": (T0 + timedelta(minutes=10)).isoformat(),
            f"{ACCOUNT}.scim_updates": (T0 + timedelta(hours=1)).isoformat(),
        }
        await ours.close()


async def test_a_load_after_the_config_map_was_deleted_resumes_from_what_the_replica_knows(
    tmp_path: Path,
) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.commit(ACCESS, T0, b"v1 access")
        assert fake.delete("configmaps", NAMESPACE, NAME)
        # A new term on the same replica: not FORWARDER_START_AT, but the last known checkpoint.
        assert await checkpoints.load(ACCESS) == T0
        assert await checkpoints.load_remembered(ACCESS) == b"v1 access"
        await checkpoints.commit(ACCESS, T0 + timedelta(minutes=1))
        stored = fake.get("configmaps", NAMESPACE, NAME)
        assert stored is not None
        assert stored["data"] == {f"{ACCOUNT}.access_requests": (T0 + timedelta(minutes=1)).isoformat()}
        await checkpoints.close()


async def test_a_missing_namespace_is_a_configuration_error_naming_the_setting(tmp_path: Path) -> None:
    async with fake_api(namespaces={"somewhere-else"}) as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.open()  # a GET in a namespace that does not exist: the object's 404
        with pytest.raises(
            KubernetesConfigurationError, match="FORWARDER_KUBERNETES_NAMESPACE: the namespace"
        ):
            await checkpoints.commit(ACCESS, T0)
        await checkpoints.close()


async def test_a_refused_write_names_the_rbac_rule(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        await checkpoints.open()
        fake.forbidden.add("token-a")
        with pytest.raises(KubernetesConfigurationError) as raised:
            await checkpoints.commit(ACCESS, T0)
        assert 'apiGroups: [""], resources: ["configmaps"], verbs: ["get", "create", "update"]' in str(
            raised.value
        )
        assert len([r for r in fake.requests if r.status == 403]) == 1
        await checkpoints.close()


async def test_an_invalid_config_map_names_the_setting(tmp_path: Path) -> None:
    async with fake_api() as fake:
        checkpoints = store(fake, tmp_path)
        fake.fail_next(422, method="POST")
        with pytest.raises(
            KubernetesConfigurationError, match="FORWARDER_KUBERNETES_CONFIGMAP: the API refused"
        ):
            await checkpoints.commit(ACCESS, T0)
        await checkpoints.close()
