"""A cluster of forwarder replicas (subprocesses) against the simulator and the fake Kubernetes API,
for the leader-election, sharding and shutdown tests. `cluster` is a fixture: see the conftest."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.config import Credential
from fakes.cloudflare.faults import Fault
from fakes.kubernetes_api import FakeKubernetesApi, Write
from fakes.threaded import ThreadedFake
from forwarder.builders import scim_preparer
from forwarder.records import LogType, event_id, parse_timestamp
from tests.support.forwarder_runs import ACCOUNT, LOG_TYPES, NOW, settings, simulator_config

NAMESPACE = "siem"
CONFIG_MAP = "forwarder-checkpoints"
LEASE_DURATION = 3.0
RENEW_DEADLINE = 2.0
RETRY_PERIOD = 0.5
SETTLE = 180
OVERLAP = 120
OTHER_ACCOUNTS = ["1b2c3d4e5f60718293a4b5c6d7e8f901", "2c3d4e5f60718293a4b5c6d7e8f90123"]
# Standbys retry every period stretched by up to 20 %; they see a renewal at most one such period
# late and try to acquire at most one period after it expires.
HAND_OVER_BOUND = LEASE_DURATION + 2 * 1.2 * RETRY_PERIOD


def cloudflare_token(index: int) -> str:
    return f"cloudflare-token-replica-{index}"


def kubernetes_token(index: int) -> str:
    return f"kubernetes-token-replica-{index}"


@dataclass
class Replica:
    index: int
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def output(self) -> Path:
        return self.directory / "events.ndjson"

    @property
    def log(self) -> str:
        return (self.directory / "forwarder.log").read_text(errors="replace")

    @property
    def label(self) -> str:
        return f"replica-{self.index}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)


@dataclass
class Cluster:
    simulator: SimulatorThread
    api: ThreadedFake[FakeKubernetesApi]
    tmp_path: Path
    accounts: list[str]
    hours: float
    replicas: list[Replica]

    def start(self, index: int, **more: str) -> Replica:
        directory = self.tmp_path / f"replica-{index}"
        service_account = directory / "serviceaccount"
        service_account.mkdir(parents=True)
        (service_account / "token").write_text(kubernetes_token(index))
        (service_account / "namespace").write_text(NAMESPACE)
        env = {
            "PATH": "/usr/bin:/bin",
            "CLOUDFLARE_API_TOKEN": cloudflare_token(index),
            "CLOUDFLARE_API_BASE_URL": self.simulator.base_url,
            "FORWARDER_ACCOUNT_IDS": ",".join(self.accounts),
            # Absolute: every replica starts a stream without a checkpoint at the same place.
            "FORWARDER_START_AT": (NOW - timedelta(hours=self.hours)).isoformat(),
            "FORWARDER_SETTLE_DELAY": str(SETTLE),
            "FORWARDER_OVERLAP": str(OVERLAP),
            "FORWARDER_MAX_WINDOW": "10m",
            "FORWARDER_PAGE_SIZE": "100",
            "FORWARDER_POLL_INTERVAL": "1",
            # Leadership, not pacing, is under test: unpaced, as in tests/support/forwarder_runs.py.
            "FORWARDER_RATE_LIMIT_REQUESTS": "1000000",
            "FORWARDER_RETRY_INITIAL_DELAY": "0.01",
            "FORWARDER_RETRY_MAX_DELAY": "0.1",
            "FORWARDER_HEALTH_PORT": "0",
            "FORWARDER_LOG_FORMAT": "text",
            "FORWARDER_DEAD_LETTER_PATH": str(directory / "dead-letters.ndjson"),
            "FORWARDER_FILE__PATH": str(directory / "events.ndjson"),
            "FORWARDER_FILE__FORMAT": "raw",
            "FORWARDER_CHECKPOINT_STORE": "kubernetes",
            "FORWARDER_KUBERNETES_API_URL": self.api.fake.url,
            "FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR": str(service_account),
            "FORWARDER_KUBERNETES_CONFIGMAP": CONFIG_MAP,
            "FORWARDER_POD_NAME": f"replica-{index}",
            "FORWARDER_LEADER_ELECTION": "true",
            "FORWARDER_LEASE_NAME": "forwarder",
            "FORWARDER_LEASE_DURATION": str(LEASE_DURATION),
            "FORWARDER_LEASE_RENEW_DEADLINE": str(RENEW_DEADLINE),
            "FORWARDER_LEASE_RETRY_PERIOD": str(RETRY_PERIOD),
            **more,
        }
        log = (directory / "forwarder.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "forwarder", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        replica = Replica(index, process, directory)
        self.replicas.append(replica)
        return replica

    # -- the fake API's view -------------------------------------------------------------------------

    def holder(self, lease: str = "forwarder") -> str | None:
        found = self.api.call(lambda fake: fake.get("leases", NAMESPACE, lease))
        return found["spec"].get("holderIdentity") if found else None

    def leader(self, lease: str = "forwarder") -> Replica:
        holder = wait_for(lambda: self.holder(lease), "a replica to acquire the lease")
        return next(replica for replica in self.replicas if holder.startswith(f"{replica.label}_"))

    def lease_writes(self, lease: str = "forwarder") -> list[Write]:
        return self.api.call(lambda fake: list(fake.writes_of("leases", lease)))

    def config_map_writes(self) -> list[Write]:
        return self.api.call(lambda fake: list(fake.writes_of("configmaps", CONFIG_MAP)))

    def positions(self) -> dict[str, datetime]:
        found = self.api.call(lambda fake: fake.get("configmaps", NAMESPACE, CONFIG_MAP))
        data = (found or {}).get("data") or {}
        return {key: datetime.fromisoformat(value) for key, value in data.items()}

    def stream_keys(self) -> set[str]:
        return {f"{account}.{log_type.value}" for account in self.accounts for log_type in LOG_TYPES}

    def wait_until_caught_up(self) -> dict[str, datetime]:
        def caught_up() -> dict[str, datetime] | None:
            positions = self.positions()
            done = set(positions) == self.stream_keys() and all(
                position >= NOW - timedelta(seconds=SETTLE) for position in positions.values()
            )
            return positions if done else None

        found: dict[str, datetime] = wait_for(
            caught_up, "every stream to catch up", timeout=150, processes=self.replicas
        )
        return found

    # -- the simulator's view ------------------------------------------------------------------------

    def cloudflare_requests(self, replica: Replica) -> list[Any]:
        return self.simulator.call(
            lambda simulator: [
                request for request in simulator.requests if request.credential == replica.label
            ]
        )

    def records(self) -> dict[str, tuple[str, datetime | None]]:
        """Event id -> (ConfigMap key of its stream, its time), for every record the simulator holds."""
        prepare = scim_preparer(settings("http://unused", self.tmp_path))
        found = {}
        for account in self.accounts:
            for log_type in LOG_TYPES:
                for data in self.simulator.records(account, log_type.value):
                    moment = parse_timestamp(log_type.time_value(data))
                    if prepare is not None and log_type is LogType.SCIM_UPDATES:
                        data = prepare(data)
                    found[event_id(log_type, account, data)] = (f"{account}.{log_type.value}", moment)
        return found


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = 60, processes: list[Replica] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for replica in processes or []:
            if replica.process.poll() is not None and replica.process.returncode != -signal.SIGKILL:
                raise AssertionError(
                    f"{replica.label} exited {replica.process.returncode}:\n{replica.log[-4000:]}"
                )
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    options: dict[str, Any] = getattr(request, "param", {})
    hours = options.get("hours", 8)
    accounts = options.get("accounts", [ACCOUNT])
    credentials = [Credential(token=cloudflare_token(index), label=f"replica-{index}") for index in range(3)]
    config = simulator_config(hours=hours, accounts=accounts, credentials=credentials)
    api = ThreadedFake(FakeKubernetesApi(), FakeKubernetesApi.start, FakeKubernetesApi.close)
    with SimulatorThread(config) as simulator, api:
        # Slow answers stretch the backfill over several lease renewals.
        simulator.add_fault(Fault.slow(0.03, count=None))
        found = Cluster(simulator, api, tmp_path, accounts, hours, [])
        try:
            yield found
        finally:
            for replica in found.replicas:
                if replica.process.poll() is None:
                    replica.process.kill()
                    replica.process.wait()


def shipped(cluster: Cluster) -> Counter[str]:
    ids: Counter[str] = Counter()
    for replica in cluster.replicas:
        if replica.output.exists():
            ids.update(
                orjson.loads(line)["_forwarder"]["event_id"]
                for line in replica.output.read_bytes().splitlines()
            )
    return ids


def assert_nothing_lost(cluster: Cluster, positions: dict[str, datetime]) -> Counter[str]:
    records = cluster.records()
    expected = {
        key for key, (stream, moment) in records.items() if moment is not None and moment < positions[stream]
    }
    found = shipped(cluster)
    missing = expected - set(found)
    assert not missing, (
        f"{len(missing)} of {len(expected)} events lost: {sorted(records[key] for key in missing)[:5]}"
    )
    assert len(expected) > 1000
    return found


def assert_checkpoints_never_moved_backwards(cluster: Cluster) -> None:
    history: dict[str, list[datetime]] = {}
    for write in cluster.config_map_writes():
        for key, value in (write.object.get("data") or {}).items():
            history.setdefault(key, []).append(datetime.fromisoformat(value))
    for key, moments in history.items():
        assert moments == sorted(moments), f"{key} moved backwards"


def stop_all(cluster: Cluster, last: Replica) -> None:
    """SIGTERM the standbys first, the leader last: no hand-over, so no window is read twice."""
    for replica in cluster.replicas:
        if replica is not last and replica.process.poll() is None:
            assert replica.stop() == 0, replica.log[-4000:]
    assert last.stop() == 0, last.log[-4000:]


def hec_token(index: int) -> str:
    return f"00000000-0000-4000-8000-00000000000{index}"
