"""Kubernetes settings, in-cluster discovery and account shards: what a person configures and reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forwarder.coordination import replica_identity
from forwarder.coordination.api import ClusterAccess, KubernetesConfigurationError
from forwarder.settings import ConfigurationError, Settings, load_config
from forwarder.settings.shards import ordinal_from_pod_name, shard_accounts, shard_lease_name

ACCOUNTS = [f"{index:032x}" for index in range(7)]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("FORWARDER_", "CLOUDFLARE_", "KUBERNETES_")) or name == "HOSTNAME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t0ken")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ",".join(ACCOUNTS))


def problems() -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_config()
    return raised.value.problems


def test_leader_election_is_off_by_default_and_the_file_store_stays() -> None:
    settings = Settings()
    assert settings.leader_election is False
    assert settings.checkpoint_store == "file"
    assert settings.shards == 1
    assert settings.owned_account_ids() == ACCOUNTS


def test_leader_election_needs_the_kubernetes_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_LEADER_ELECTION", "true")
    found = problems()
    assert any(
        line.startswith("FORWARDER_LEADER_ELECTION: needs FORWARDER_CHECKPOINT_STORE=kubernetes")
        for line in found
    )


def test_lease_timings_that_could_overlap_leaders_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_LEADER_ELECTION", "true")
    monkeypatch.setenv("FORWARDER_CHECKPOINT_STORE", "kubernetes")
    monkeypatch.setenv("FORWARDER_LEASE_DURATION", "10s")
    monkeypatch.setenv("FORWARDER_LEASE_RENEW_DEADLINE", "12s")
    found = problems()
    assert any(line.startswith("FORWARDER_LEASE_RENEW_DEADLINE: must be shorter") for line in found)


def test_shards_need_leader_election_and_an_ordinal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_SHARDS", "3")
    monkeypatch.setenv("FORWARDER_POD_NAME", "forwarder")
    found = "\n".join(problems())
    assert "FORWARDER_SHARDS: needs FORWARDER_LEADER_ELECTION=true" in found
    assert "FORWARDER_SHARD_ORDINAL: not set, and the pod name 'forwarder' does not end in -<number>" in found


def test_the_shard_comes_from_the_statefulset_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_LEADER_ELECTION", "true")
    monkeypatch.setenv("FORWARDER_CHECKPOINT_STORE", "kubernetes")
    monkeypatch.setenv("FORWARDER_SHARDS", "3")
    monkeypatch.setenv("HOSTNAME", "siem-forwarder-2")
    settings = Settings()
    assert settings.ordinal() == 2
    assert settings.owned_account_ids() == [ACCOUNTS[2], ACCOUNTS[5]]
    monkeypatch.setenv("FORWARDER_SHARD_ORDINAL", "3")
    assert "FORWARDER_SHARD_ORDINAL: 3 is not below FORWARDER_SHARDS (3)" in problems()


def test_every_account_is_in_exactly_one_shard() -> None:
    for shards in range(1, 9):
        owned = [
            account for ordinal in range(shards) for account in shard_accounts(ACCOUNTS, shards, ordinal)
        ]
        assert sorted(owned) == sorted(ACCOUNTS)
    assert shard_lease_name("forwarder", 1, 0) == "forwarder"
    assert shard_lease_name("forwarder", 4, 3) == "forwarder-3"


@pytest.mark.parametrize(
    ("pod", "ordinal"),
    [("forwarder-0", 0), ("a-b-12", 12), ("forwarder", None), ("forwarder-7x", None), ("", None)],
)
def test_ordinal_from_pod_name(pod: str, ordinal: int | None) -> None:
    assert ordinal_from_pod_name(pod) == ordinal


def test_identity_is_the_pod_name_and_a_fresh_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "forwarder-1")
    settings = Settings()
    first, second = replica_identity(settings), replica_identity(settings)
    assert first.startswith("forwarder-1_")
    assert first != second


def test_in_cluster_discovery_uses_the_service_environment_and_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret")
    (tmp_path / "namespace").write_text("siem\n")
    (tmp_path / "ca.crt").write_text("not read until a request")
    access = ClusterAccess.discover(
        service_account_dir=tmp_path,
        environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
    )
    assert access.base_url == "https://10.0.0.1:443"
    assert access.namespace == "siem"
    assert access.token_path == tmp_path / "token"
    assert access.ca_path == tmp_path / "ca.crt"
    ipv6 = ClusterAccess.discover(
        service_account_dir=tmp_path,
        environ={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"},
    )
    assert ipv6.base_url == "https://[fd00::1]:6443"


def test_outside_a_cluster_every_missing_piece_is_named(tmp_path: Path) -> None:
    with pytest.raises(KubernetesConfigurationError) as raised:
        ClusterAccess.discover(service_account_dir=tmp_path, environ={})
    lines = str(raised.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "FORWARDER_KUBERNETES_API_URL",
        "FORWARDER_KUBERNETES_NAMESPACE",
        "FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR",
    ]


# -- FORWARDER_KUBERNETES_REQUEST_TIMEOUT ------------------------------------------------------------


def leader_election(monkeypatch: pytest.MonkeyPatch, renew_deadline: str = "10s") -> None:
    monkeypatch.setenv("FORWARDER_LEADER_ELECTION", "true")
    monkeypatch.setenv("FORWARDER_CHECKPOINT_STORE", "kubernetes")
    monkeypatch.setenv("FORWARDER_LEASE_DURATION", "15s")
    monkeypatch.setenv("FORWARDER_LEASE_RENEW_DEADLINE", renew_deadline)
    monkeypatch.setenv("FORWARDER_LEASE_RETRY_PERIOD", "1s")


def test_the_kubernetes_request_timeout_is_its_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_REQUEST_TIMEOUT", "30s")
    assert Settings().kubernetes_request_timeout == 5.0
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "1500ms")
    assert Settings().kubernetes_request_timeout == 1.5
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "3")
    assert Settings().kubernetes_request_timeout == 3.0
    # Without leader election there is no deadline to fit under.
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "1m")
    assert Settings().kubernetes_request_timeout == 60.0
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "0")
    assert any(line.startswith("FORWARDER_KUBERNETES_REQUEST_TIMEOUT") for line in problems())


def test_a_request_timeout_not_below_the_renew_deadline_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leader_election(monkeypatch, renew_deadline="10s")
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "10s")
    found = [line for line in problems() if line.startswith("FORWARDER_KUBERNETES_REQUEST_TIMEOUT")]
    assert found == [
        "FORWARDER_KUBERNETES_REQUEST_TIMEOUT: must be shorter than FORWARDER_LEASE_RENEW_DEADLINE "
        "(10 s is not below 10 s), so that a leader can retry a renewal that timed out before its deadline"
    ]
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "9s")
    assert Settings().kubernetes_request_timeout == 9.0


def test_the_default_request_timeout_fits_a_short_renew_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    leader_election(monkeypatch, renew_deadline="12s")
    assert Settings().kubernetes_request_timeout == 5.0
    leader_election(monkeypatch, renew_deadline="10s")
    assert Settings().kubernetes_request_timeout == 5.0
    leader_election(monkeypatch, renew_deadline="8s")
    assert Settings().kubernetes_request_timeout == 4.0
    leader_election(monkeypatch, renew_deadline="2s")
    monkeypatch.setenv("FORWARDER_LEASE_DURATION", "3s")
    monkeypatch.setenv("FORWARDER_LEASE_RETRY_PERIOD", "0.5s")
    assert Settings().kubernetes_request_timeout == 1.0
    # A value someone set is theirs: kept when it fits, refused when it does not.
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "1.5s")
    assert Settings().kubernetes_request_timeout == 1.5


async def test_every_kubernetes_client_uses_the_kubernetes_request_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from forwarder.checkpoints import checkpoint_store
    from forwarder.checkpoints.kubernetes import ConfigMapCheckpointStore
    from forwarder.coordination import kubernetes_api, leader_elector

    (tmp_path / "token").write_text("secret")
    (tmp_path / "namespace").write_text("siem")
    leader_election(monkeypatch)
    monkeypatch.setenv("FORWARDER_KUBERNETES_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("FORWARDER_REQUEST_TIMEOUT", "30s")
    monkeypatch.setenv("FORWARDER_KUBERNETES_REQUEST_TIMEOUT", "2s")
    settings = Settings()
    store = checkpoint_store(settings)
    assert isinstance(store, ConfigMapCheckpointStore)
    elector = leader_elector(settings)
    api = kubernetes_api(settings)
    for used in (store.api, elector.api, api):
        assert used.timeout == 2.0
        assert used._http.timeout.read == 2.0
        await used.close()
