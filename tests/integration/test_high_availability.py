"""Several real forwarder processes against one Cloudflare simulator and one fake Kubernetes API.

Each replica is the CLI in `run` mode with the `kubernetes` checkpoint store and leader election
(a 3 s lease, 2 s renew deadline, 0.5 s retry period), its own file sink output, its own Cloudflare
token (so the simulator's request log says which replica asked) and its own service-account token
(so the fake API can cut one replica off). Every simulator event before the final checkpoints is
accounted for across all outputs: shipped by exactly one replica, except events of the window a
dead leader had read but not committed, which its successor reads again.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.support.cluster import (
    HAND_OVER_BOUND,
    LEASE_DURATION,
    OTHER_ACCOUNTS,
    OVERLAP,
    SETTLE,
    Cluster,
    Replica,
    assert_checkpoints_never_moved_backwards,
    assert_nothing_lost,
    hec_token,
    kubernetes_token,
    stop_all,
    wait_for,
)
from tests.support.forwarder_runs import ACCOUNT, NOW

pytestmark = pytest.mark.timeout(240)


def test_two_replicas_one_leader_every_event_shipped_once(cluster: Cluster) -> None:
    for index in range(2):
        cluster.start(index)
    leader = cluster.leader()
    standby = next(replica for replica in cluster.replicas if replica is not leader)
    positions = cluster.wait_until_caught_up()
    stop_all(cluster, leader)
    found = assert_nothing_lost(cluster, positions)
    assert max(found.values()) == 1
    # The standby only probed its credentials at start (one record per stream), and shipped nothing.
    assert not standby.output.exists() or standby.output.stat().st_size == 0
    standby_reads = [r for r in cluster.cloudflare_requests(standby) if "identity_providers" not in r.path]
    assert standby_reads
    assert all(dict(r.query).get("per_page") == "1" for r in standby_reads)
    assert_checkpoints_never_moved_backwards(cluster)
    # A clean shutdown hands the lease back (holder empty) instead of leaving it to expire.
    assert cluster.holder() is None
    assert "released the lease" in leader.log


def test_killing_the_leader_of_three_hands_over_within_the_lease_and_loses_nothing(cluster: Cluster) -> None:
    for index in range(3):
        cluster.start(index)
    leader = cluster.leader()
    # Kill it in the middle of the backfill, once it has committed something.
    wait_for(
        lambda: set(cluster.positions()) == cluster.stream_keys(),
        "the first commits",
        processes=cluster.replicas,
    )
    assert min(cluster.positions().values()) < NOW - timedelta(seconds=SETTLE), "the backfill ended too soon"
    last_renewal = [w for w in cluster.lease_writes() if w.object["spec"]["holderIdentity"]][-1]
    leader.process.send_signal(signal.SIGKILL)
    leader.process.wait()
    killed_at = time.time()
    successor = wait_for(
        lambda: (holder := cluster.holder()) and not holder.startswith(f"{leader.label}_") and holder,
        "another replica to take over",
    )
    taken = next(w for w in cluster.lease_writes() if w.object["spec"]["holderIdentity"] == successor)
    # Not before the dead leader's lease expired, and within the protocol's bound after the kill.
    last_renewal = [w for w in cluster.lease_writes() if w.time < killed_at][-1]
    assert taken.time >= last_renewal.time + LEASE_DURATION
    assert taken.time - killed_at <= HAND_OVER_BOUND + 0.5, (taken.time - killed_at, HAND_OVER_BOUND)
    assert taken.object["spec"]["leaseTransitions"] == 1
    new_leader = next(replica for replica in cluster.replicas if successor.startswith(f"{replica.label}_"))
    # The dead leader's last committed positions: where the successor resumed.
    at_hand_over: dict[str, datetime] = {}
    for write in cluster.config_map_writes():
        if write.time < taken.time:
            at_hand_over = {k: datetime.fromisoformat(v) for k, v in (write.object.get("data") or {}).items()}
    positions = cluster.wait_until_caught_up()
    stop_all(cluster, new_leader)
    found = assert_nothing_lost(cluster, positions)
    records = cluster.records()
    for key, count in found.items():
        if count > 1:
            stream, moment = records[key]
            # Read twice only if it lay in the window that was read but not yet committed (or its overlap).
            assert count == 2
            assert moment is not None
            assert moment >= at_hand_over[stream] - timedelta(seconds=OVERLAP), (
                key,
                moment,
                at_hand_over[stream],
            )
    # The successor started from the committed checkpoint, not from FORWARDER_START_AT.
    assert sum(found.values()) - len(found) < len(found) / 2
    assert_checkpoints_never_moved_backwards(cluster)
    # The third replica never led: it shipped nothing.
    third = next(r for r in cluster.replicas if r is not leader and r is not new_leader)
    assert not third.output.exists() or third.output.stat().st_size == 0


def test_a_leader_cut_off_from_the_api_stops_polling_before_its_lease_expires(cluster: Cluster) -> None:
    for index in range(2):
        cluster.start(index)
    leader = cluster.leader()
    other = next(replica for replica in cluster.replicas if replica is not leader)
    wait_for(
        lambda: set(cluster.positions()) == cluster.stream_keys(),
        "the first commits",
        processes=cluster.replicas,
    )
    assert min(cluster.positions().values()) < NOW - timedelta(seconds=SETTLE), "the backfill ended too soon"
    token = kubernetes_token(leader.index)
    cluster.api.call(lambda fake: fake.partition(token))
    successor = wait_for(
        lambda: (holder := cluster.holder()) and holder.startswith(f"{other.label}_") and holder,
        "the other replica to take over",
        timeout=30,
    )
    taken = next(w for w in cluster.lease_writes() if w.object["spec"]["holderIdentity"] == successor)
    last_renewal = [w for w in cluster.lease_writes() if w.token == token][-1]
    expiry = last_renewal.time + last_renewal.object["spec"]["leaseDurationSeconds"]
    # The partitioned leader is alive (still a candidate) but asked Cloudflare nothing once its
    # lease could have expired, nor after the other replica took over.
    assert leader.process.poll() is None
    wait_for(lambda: "lost the lease" in leader.log, "the cut-off leader to say it lost the lease")
    requests = cluster.cloudflare_requests(leader)
    assert requests
    assert max(request.time for request in requests) < min(expiry, taken.time)
    assert "stopped reading and shipping: this replica no longer holds the lease" in leader.log
    # Healed, it finds the lease held, and it commits nothing for the windows it read before.
    healed_at = time.time()
    cluster.api.call(lambda fake: fake.heal(token))
    positions = cluster.wait_until_caught_up()
    # Several poll intervals later: still nothing from the old leader since its lease could expire.
    wait_for(
        lambda: len([r for r in cluster.cloudflare_requests(other) if r.time > healed_at + 2]) > 0,
        "the new leader to poll a few more times",
    )
    assert max(request.time for request in cluster.cloudflare_requests(leader)) < min(expiry, taken.time)
    assert not [w for w in cluster.config_map_writes() if w.token == token and w.time >= expiry]
    assert cluster.holder() == successor
    stop_all(cluster, other)
    assert_nothing_lost(cluster, positions)
    assert_checkpoints_never_moved_backwards(cluster)


@pytest.mark.parametrize("cluster", [{"hours": 3, "accounts": [ACCOUNT, *OTHER_ACCOUNTS]}], indirect=True)
def test_two_shards_split_the_accounts_each_under_its_own_lease(cluster: Cluster) -> None:
    shards = [
        cluster.start(index, FORWARDER_SHARDS="2", FORWARDER_POD_NAME=f"forwarder-{index}")
        for index in range(2)
    ]
    positions = cluster.wait_until_caught_up()
    holders = [cluster.holder(f"forwarder-{index}") for index in range(2)]
    assert holders[0] is not None
    assert holders[0].startswith("forwarder-0_")
    assert holders[1] is not None
    assert holders[1].startswith("forwarder-1_")
    for shard in shards:
        assert shard.stop() == 0, shard.log[-4000:]
    found = assert_nothing_lost(cluster, positions)
    assert max(found.values()) == 1
    records = cluster.records()
    owned = {0: {ACCOUNT, OTHER_ACCOUNTS[1]}, 1: {OTHER_ACCOUNTS[0]}}
    for index, shard in enumerate(shards):
        accounts = {
            orjson.loads(line)["_forwarder"]["account_id"] for line in shard.output.read_bytes().splitlines()
        }
        assert accounts == owned[index]
        assert {request.path.split("/")[4] for request in cluster.cloudflare_requests(shard)} == owned[index]
    assert set(positions) == {stream for stream, _ in records.values()}


def test_missing_rbac_permissions_are_named_and_exit_2(cluster: Cluster) -> None:
    cluster.api.call(lambda fake: fake.forbidden.add(kubernetes_token(0)))
    replica = cluster.start(0)
    assert replica.process.wait(timeout=60) == 2
    text = replica.log
    assert "FORWARDER_KUBERNETES_CONFIGMAP: cannot read ConfigMap siem/forwarder-checkpoints" in text
    assert 'cannot get resource "configmaps"' in text
    assert kubernetes_token(0) not in text


def test_outside_a_cluster_the_missing_settings_are_named_and_exit_2(cluster: Cluster) -> None:
    replica = cluster.start(0, FORWARDER_KUBERNETES_API_URL="")
    assert replica.process.wait(timeout=60) == 2
    assert (
        "FORWARDER_KUBERNETES_API_URL: not set, and KUBERNETES_SERVICE_HOST is not set either" in replica.log
    )


def test_a_partitioned_leader_with_a_slow_sink_stops_shipping_before_another_starts(cluster: Cluster) -> None:
    """Each replica ships to one slow HEC with a token of its own: the SIEM sees the requests of the
    old leader end before the first of the new one arrives."""
    from fakes.splunk_hec import FakeHec, HecToken
    from tests.support.hec import splunk_hec_serving

    with splunk_hec_serving(FakeHec([HecToken(hec_token(0)), HecToken(hec_token(1))])) as hec:
        hec.call(lambda fake: setattr(fake, "answer_delay", 0.3))
        for index in range(2):
            cluster.start(
                index,
                FORWARDER_SINKS="splunk_hec",
                FORWARDER_SPLUNK_HEC__URL=hec.fake.url,
                FORWARDER_SPLUNK_HEC__TOKEN=hec_token(index),
                FORWARDER_SPLUNK_HEC__BATCH_MAX_EVENTS="50",
                FORWARDER_SPLUNK_HEC__CONCURRENCY="2",
            )
        leader = cluster.leader()
        other = next(replica for replica in cluster.replicas if replica is not leader)

        def requests_of(replica: Replica) -> list[Any]:
            token = f"Splunk {hec_token(replica.index)}"
            return hec.call(
                lambda fake: [r for r in fake.requests if r.headers.get("Authorization") == token]
            )

        wait_for(lambda: len(requests_of(leader)) >= 3, "the leader to ship", processes=cluster.replicas)
        cluster.api.call(lambda fake: fake.partition(kubernetes_token(leader.index)))
        wait_for(lambda: requests_of(other), "the new leader to ship", timeout=30, processes=cluster.replicas)
        wait_for(lambda: "stopped reading and shipping" in leader.log, "the old leader to stop shipping")
        time.sleep(1)
        old, new = requests_of(leader), requests_of(other)
        assert old
        assert new
        # Every request of the old leader was answered (its events taken) before the first request
        # of the new one arrived: no moment with two replicas shipping.
        first_new = min(request.received_at for request in new)
        assert max(max(request.answered_at, default=request.received_at) for request in old) < first_new
        assert not [request for request in old if request.received_at > first_new]
        cluster.api.call(lambda fake: fake.heal(kubernetes_token(leader.index)))
        stop_all(cluster, other)
