"""Values the chart refuses before rendering anything, each with a sentence that says what to do.

Every setting of the forwarder is reachable through `env`; no credential is taken in plain text, and
no variable that a value of the chart owns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helm_chart_support import (
    KUBERNETES_STORE,
    LEADER_ELECTION,
    SET_BY_VALUES,
    TEMPLATE,
    environment,
    forwarder_containers,
    helm_tree,
    render,
    run,
    settings_reference,
)

__all__ = ["helm_tree"]


def test_every_setting_is_reachable_and_every_secret_refused_in_plain_env(
    helm_tree: Path, tmp_path: Path
) -> None:
    settings = settings_reference()
    plain = {
        name: f"value-of-{name.lower()}"
        for name, secret in settings.items()
        if not secret and name not in SET_BY_VALUES
    }
    secrets = {name: f"secret-of-{name.lower()}" for name, secret in settings.items() if secret}
    assert secrets, "env-reference marks no setting as a secret: the parsing is off"
    values = tmp_path / "every-setting.yaml"
    values.write_text(yaml.safe_dump({"env": plain, "credentials": {"values": secrets}}))
    (container,) = forwarder_containers(render(helm_tree, "defaults", "-f", str(values)))
    env = environment(container)
    for name, value in plain.items():
        assert env.get(name) == value, name
    for name in secrets:
        assert name not in env
        assert env[f"{name}_FILE"].endswith("/" + name)

    for name in secrets:
        values.write_text(yaml.safe_dump({"env": {name: "in plain text"}}))
        result = run(helm_tree, TEMPLATE["defaults"], "-f", str(values))
        assert result.returncode != 0, f"{name} in env was accepted"
        assert f"env.{name} looks like a credential: put it in credentials.values" in result.stderr
    for name, value in SET_BY_VALUES.items():
        values.write_text(yaml.safe_dump({"env": {name: "9000"}}))
        result = run(helm_tree, TEMPLATE["defaults"], "-f", str(values))
        assert result.returncode != 0, f"{name} in env was accepted"
        assert f"env.{name}: set {value} instead" in result.stderr


BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    (
        "two replicas without leader election",
        {"replicaCount": 2},
        "replicaCount 2 needs leaderElection.enabled: true (and checkpoints.store: kubernetes): "
        "without it every replica reads every stream",
    ),
    ("negative replicas", {"replicaCount": -1}, "at '/replicaCount': minimum: got -1, want 0"),
    (
        "an unknown checkpoint store",
        {"checkpoints": {"store": "redis"}},
        "at '/checkpoints/store': value must be one of 'file', 'kubernetes'",
    ),
    (
        "leader election without the kubernetes store",
        {"leaderElection": {"enabled": True}},
        "leaderElection.enabled needs checkpoints.store: kubernetes",
    ),
    (
        "shards without leader election",
        KUBERNETES_STORE | {"sharding": {"shards": 3}},
        "sharding.shards 3 needs leaderElection.enabled: true",
    ),
    ("zero shards", {"sharding": {"shards": 0}}, "at '/sharding/shards': minimum: got 0, want 1"),
    (
        "replicas per shard",
        LEADER_ELECTION | {"sharding": {"shards": 3}, "replicaCount": 2},
        "replicaCount 2 with sharding.shards 3: the StatefulSet runs one pod per shard",
    ),
    (
        "replicas sharing a ReadWriteOnce claim",
        LEADER_ELECTION | {"replicaCount": 2},
        "replicaCount 2 with a ReadWriteOnce state claim: the replicas cannot all mount it",
    ),
    (
        "a renew deadline past the lease",
        LEADER_ELECTION | {"leaderElection": {"enabled": True, "renewDeadline": 20}},
        "leaderElection.renewDeadline (20) must be shorter than leaderElection.leaseDuration (15)",
    ),
    (
        "a lease name that is not a name",
        LEADER_ELECTION | {"leaderElection": {"enabled": True, "leaseName": "My_Lease"}},
        "at '/leaderElection/leaseName'",
    ),
    (
        "the pod name in env with the kubernetes store",
        KUBERNETES_STORE | {"env": {"FORWARDER_POD_NAME": "forwarder-0"}},
        "env.FORWARDER_POD_NAME: the chart sets it from the pod (metadata.name)",
    ),
    (
        "a shard ordinal in env for every shard",
        LEADER_ELECTION | {"sharding": {"shards": 2}, "env": {"FORWARDER_SHARD_ORDINAL": "0"}},
        "env.FORWARDER_SHARD_ORDINAL: each pod of the StatefulSet takes its shard from the ordinal",
    ),
    (
        "a StatefulSet name too long for its pods' labels",
        LEADER_ELECTION | {"sharding": {"shards": 2}, "fullnameOverride": "f" * 53},
        "is longer than 52 characters",
    ),
    (
        "the kubernetes store in a sidecar without the pod's service account",
        KUBERNETES_STORE | {"mode": "sidecar"},
        "checkpoints.store: kubernetes in mode: sidecar: set serviceAccount.name",
    ),
    (
        "an account id that is not one",
        {"forwarder": {"accountIds": ["my-account"]}},
        "at '/forwarder/accountIds/0': 'my-account' does not match pattern '^[0-9a-f]{32}$'",
    ),
    ("a misspelt value", {"forwarder": {"sink": ["file"]}}, "at '/forwarder': additional properties 'sink'"),
    ("an unknown mode", {"mode": "daemonset"}, "at '/mode': value must be one of 'deployment', 'sidecar'"),
    (
        "an unknown transport",
        {"syslog": {"transport": "quic"}},
        "at '/syslog/transport': value must be one of",
    ),
    ("a port as text", {"forwarder": {"healthPort": "http"}}, "at '/forwarder/healthPort'"),
    ("a size that is not one", {"persistence": {"size": "lots"}}, "at '/persistence/size'"),
    ("a tag as digest", {"image": {"digest": "latest"}}, "at '/image/digest'"),
    (
        "a secret in plain env",
        {"env": {"CLOUDFLARE_API_TOKEN": "abc"}},
        "env.CLOUDFLARE_API_TOKEN looks like a credential",
    ),
    (
        "a credential set twice",
        {
            "credentials": {"values": {"CLOUDFLARE_API_TOKEN": "abc"}},
            "env": {"CLOUDFLARE_API_TOKEN_FILE": "/t"},
        },
        "CLOUDFLARE_API_TOKEN is both a credentials key and set in env",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"), [case[1:] for case in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_bad_values_are_refused_with_a_readable_message(
    helm_tree: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    result = run(helm_tree, TEMPLATE["defaults"], "-f", str(path))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not result.stdout.strip(), "nothing may be rendered from bad values"
