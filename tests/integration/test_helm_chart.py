"""The Helm chart, with a real helm: lint, render, and hold every manifest to the Kubernetes schemas.

The commands are the ones README.md shows
(under "Deploy on Kubernetes") (a test checks that they are there word for word);
they run in a copy of helm/ so that `helm dependency update` leaves the work tree alone. How helm and
kubernetes-validate are found, and what happens when they are missing: helm_chart_support.py.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from forwarder import __version__
from forwarder.env_reference import reference
from tests.integration.helm_chart_support import (
    CONTAINER,
    ROOT,
    SIDECAR_DEPENDENCIES,
    Manifest,
    by_kind,
    environment,
    forwarder_containers,
    helm_tree,
    rendered,
    run,
    the,
    validation_problems,
    workloads,
)

__all__ = ["helm_tree"]

DOCS = ROOT / "README.md"
STATE_DIR = "/var/lib/cloudflare-siem-forwarder"
# The other engineer's FORWARDER_HEALTH_PORT is used by the chart before it is in every checkout's
# reference; once it is there this adds nothing.
PENDING_SETTINGS = {"FORWARDER_HEALTH_PORT"}
# Settings the chart owns through a value, because other parts of the manifest follow them.
SET_BY_VALUES = {
    "FORWARDER_HEALTH_PORT": "forwarder.healthPort",
    "FORWARDER_CHECKPOINT_STORE": "checkpoints.store",
    "FORWARDER_KUBERNETES_CONFIGMAP": "checkpoints.configMapName",
    "FORWARDER_LEADER_ELECTION": "leaderElection.enabled",
    "FORWARDER_LEASE_NAME": "leaderElection.leaseName",
    "FORWARDER_SHARDS": "sharding.shards",
}
# With the kubernetes store the chart takes these from the pod itself (the downward API).
FROM_THE_POD = {"FORWARDER_POD_NAME": "metadata.name", "FORWARDER_KUBERNETES_NAMESPACE": "metadata.namespace"}

LINT = {
    "defaults": "helm lint --strict helm/cloudflare-siem-forwarder",
    "full": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-full.yaml",
    "existing-secret": "helm lint --strict helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-existing-secret.yaml",
    "leader-election": "helm lint --strict helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-leader-election.yaml",
    "sharded": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-sharded.yaml",
    "sidecar": "helm lint --strict helm/examples/syslog-relay-sidecar",
}
TEMPLATE = {
    "defaults": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder",
    "full": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-full.yaml",
    "existing-secret": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-existing-secret.yaml",
    "leader-election": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-leader-election.yaml",
    "sharded": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-sharded.yaml",
    "sidecar": "helm template relay helm/examples/syslog-relay-sidecar",
    "native-sidecar": "helm template relay helm/examples/syslog-relay-sidecar --set nativeSidecar=true",
}
# What each case renders, by kind; a kind that appears or vanishes by mistake fails here.
KINDS = {
    "defaults": ["Deployment", "PersistentVolumeClaim", "ServiceAccount"],
    "full": [
        "Deployment",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ],
    "existing-secret": ["Deployment", "ServiceAccount"],
    "leader-election": [
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ],
    # One Service for /metrics, one headless that governs the StatefulSet.
    "sharded": [
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Service",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ],
    "sidecar": ["ConfigMap", "Deployment"],
    "native-sidecar": ["ConfigMap", "Deployment"],
}
# Custom resources kubernetes-validate has no schema for; checked against what they point at instead.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


def render(root: Path, case: str, *extra: str) -> list[Manifest]:
    return rendered(root, TEMPLATE[case], *extra)


@cache
def settings_reference() -> dict[str, bool]:
    """Every variable of `env-reference`, and whether it is a secret."""
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|.*\|(.*)\|$", reference(), flags=re.MULTILINE)
    return {name: "Secret: never logged" in description for name, description in rows}


@pytest.mark.parametrize("case", sorted(LINT))
def test_lint_is_strictly_clean(helm_tree: Path, case: str) -> None:
    result = run(helm_tree, LINT[case])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


@pytest.mark.parametrize("case", sorted(TEMPLATE))
def test_every_rendered_manifest_validates_strictly(helm_tree: Path, case: str) -> None:
    manifests = render(helm_tree, case)
    assert sorted(manifest["kind"] for manifest in manifests) == KINDS[case]
    problems = validation_problems(manifests, CUSTOM_KINDS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", sorted(TEMPLATE))
def test_the_forwarder_container_is_locked_down_and_probed(helm_tree: Path, case: str) -> None:
    manifests = render(helm_tree, case)
    (container,) = forwarder_containers(manifests)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert isinstance(security["runAsUser"], int)
    assert security["runAsUser"] > 0

    env = environment(container)
    (port,) = container["ports"]
    assert port["name"] == "fwd-health"
    assert str(port["containerPort"]) == env["FORWARDER_HEALTH_PORT"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "fwd-health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "fwd-health"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "fwd-health"}
    assert container["resources"]["limits"]["memory"]

    # The only writable places are volumes: the state directory holds checkpoints and dead letters.
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts[STATE_DIR] == "cloudflare-siem-forwarder-state"
    assert env["FORWARDER_CHECKPOINT_PATH"].startswith(STATE_DIR + "/")
    assert env["FORWARDER_DEAD_LETTER_PATH"].startswith(STATE_DIR + "/")
    (workload,) = workloads(manifests)
    pod = workload["spec"]["template"]["spec"]
    claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])}
    volumes = {volume["name"] for volume in pod["volumes"]}
    assert set(mounts.values()) <= volumes | claims
    assert not volumes & claims
    # Only the kubernetes checkpoint store calls the API: no token in the pod otherwise.
    assert pod["automountServiceAccountToken"] is (env["FORWARDER_CHECKPOINT_STORE"] == "kubernetes")


def test_defaults_run_one_pod_with_persistent_state(helm_tree: Path) -> None:
    manifests = render(helm_tree, "defaults")
    deployment = the(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    # Two pods must never share the checkpoint file; a RWO claim cannot move while held.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # FORWARDER_SHUTDOWN_GRACE (20 s) to flush and commit, and time to exit.
    assert pod["terminationGracePeriodSeconds"] == 30
    claim = the(manifests, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    (state,) = [volume for volume in pod["volumes"] if volume["name"] == "cloudflare-siem-forwarder-state"]
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (container,) = forwarder_containers(manifests)
    assert container["image"] == f"cloudflare-siem-forwarder:{__version__}"
    assert container["args"] == ["run"]
    assert not any(name.endswith("_FILE") for name in environment(container))


def test_full_values_reach_the_forwarder_as_its_own_variables(helm_tree: Path) -> None:
    manifests = render(helm_tree, "full")
    (container,) = forwarder_containers(manifests)
    env = environment(container)
    known = set(settings_reference()) | PENDING_SETTINGS
    # OTEL_* are OpenTelemetry's standard variables, which the forwarder's exporters read as they are.
    for name in (name for name in env if not name.startswith("OTEL_")):
        setting = name if name in known else name.removesuffix("_FILE")
        assert setting in known, f"{name} is not a setting of the forwarder (typo in the chart?)"
    (otlp,) = [item for item in container["env"] if item["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert otlp["valueFrom"] == {"configMapKeyRef": {"name": "otel-collector", "key": "endpoint"}}
    assert env["FORWARDER_ACCOUNT_IDS"] == "023e105f4ecef8ad9ca31a8372d0c353,0123456789abcdef0123456789abcdef"
    assert env["FORWARDER_SINKS"] == "splunk_hec,elasticsearch,syslog,file"
    assert env["FORWARDER_SPLUNK_HEC__INDEX_ACCESS_REQUESTS"] == "cloudflare"
    assert env["FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS"] == "true"
    assert env["FORWARDER_SYSLOG__PORT"] == "6514"
    assert env["FORWARDER_SYSLOG__TLS_CA_FILE"] == "/etc/cloudflare-siem-forwarder/ca/ca.pem"
    assert env["FORWARDER_HEALTH_PORT"] == "9090"
    # YAML numbers arrive in templates as floats: whole ones must not turn into 1e+08.
    assert env["FORWARDER_DEAD_LETTER_MAX_BYTES"] == "100000000"
    assert env["FORWARDER_RATE_LIMIT_REQUESTS"] == "600"
    assert env["FORWARDER_ELASTICSEARCH__GZIP"] == "false"
    assert container["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    pod = the(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 60
    # extraEnv keeps its valueFrom; envFrom and the extra CA volume are passed through.
    (host,) = [item for item in container["env"] if item["name"] == "FORWARDER_SPLUNK_HEC__HOST"]
    assert host["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert container["envFrom"][0]["configMapRef"]["name"] == "cloudflare-siem-forwarder-extra"
    assert {"name": "siem-ca", "configMap": {"name": "siem-ca-bundle"}} in pod["volumes"]


def test_credentials_are_files_from_the_created_secret(helm_tree: Path) -> None:
    manifests = render(helm_tree, "full")
    secret = the(manifests, "Secret")
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded["CLOUDFLARE_API_TOKEN"] == "example-cloudflare-api-token"
    assert decoded["FORWARDER_SPLUNK_HEC__TOKEN"] == "00000000-0000-0000-0000-000000000000"
    (container,) = forwarder_containers(manifests)
    env = environment(container)
    for key in decoded:
        assert key not in env, f"{key} must not be in the environment in plain text"
        assert env[f"{key}_FILE"] == f"/var/run/secrets/cloudflare-siem-forwarder/{key}"
    pod_template = the(manifests, "Deployment")["spec"]["template"]
    (volume,) = [v for v in pod_template["spec"]["volumes"] if v["name"].endswith("-credentials")]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert sorted(item["key"] for item in volume["secret"]["items"]) == sorted(decoded)
    # A new token rolls the pod.
    assert re.fullmatch(r"[0-9a-f]{64}", pod_template["metadata"]["annotations"]["checksum/credentials"])


def test_an_existing_secret_is_used_by_name_and_none_is_created(helm_tree: Path) -> None:
    manifests = render(helm_tree, "existing-secret")
    assert not by_kind(manifests, "Secret")
    pod = the(manifests, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"].endswith("-credentials")]
    assert volume["secret"]["secretName"] == "cloudflare-siem-forwarder"
    assert [item["key"] for item in volume["secret"]["items"]] == [
        "CLOUDFLARE_API_TOKEN",
        "FORWARDER_SPLUNK_HEC__TOKEN",
    ]
    (state,) = [v for v in pod["volumes"] if v["name"] == "cloudflare-siem-forwarder-state"]
    assert state["persistentVolumeClaim"]["claimName"] == "cloudflare-siem-forwarder-state"
    (container,) = forwarder_containers(manifests)
    assert environment(container)["FORWARDER_SPLUNK_HEC__TOKEN_FILE"].endswith("/FORWARDER_SPLUNK_HEC__TOKEN")


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


KUBERNETES_STORE: dict[str, Any] = {"checkpoints": {"store": "kubernetes"}}
LEADER_ELECTION: dict[str, Any] = KUBERNETES_STORE | {"leaderElection": {"enabled": True}}

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


def test_service_monitor_scrapes_the_service_of_the_health_port(helm_tree: Path) -> None:
    manifests = render(helm_tree, "full")
    service, monitor = the(manifests, "Service"), the(manifests, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = service["spec"]["ports"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("15s", "5s")
    assert port["targetPort"] == "fwd-health"
    pod_labels = the(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_network_policy_and_disruption_budget_select_the_pod(helm_tree: Path) -> None:
    manifests = render(helm_tree, "full")
    pod_labels = the(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    policy, budget = the(manifests, "NetworkPolicy"), the(manifests, "PodDisruptionBudget")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in budget["spec"]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {
        (53, "UDP"),
        (53, "TCP"),
        (443, "TCP"),
        (8088, "TCP"),
        (9200, "TCP"),
        (6514, "TCP"),
    } <= egress_ports
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "fwd-health", "protocol": "TCP"}]


def role_rules(manifests: list[Manifest]) -> dict[tuple[str, str], dict[str, list[str] | None]]:
    """The Role's rules, (apiGroup, resource) -> {verb: resourceNames, None for any name}."""
    found: dict[tuple[str, str], dict[str, list[str] | None]] = {}
    for rule in the(manifests, "Role")["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    verbs = found.setdefault((group, resource), {})
                    assert verb not in verbs, f"{verb} on {resource} granted twice"
                    verbs[verb] = rule.get("resourceNames")
    return found


def test_the_file_store_needs_no_api_access(helm_tree: Path) -> None:
    for case in ("defaults", "full", "existing-secret"):
        manifests = render(helm_tree, case)
        assert not by_kind(manifests, "Role")
        assert not by_kind(manifests, "RoleBinding")
        (container,) = forwarder_containers(manifests)
        env = environment(container)
        assert env["FORWARDER_CHECKPOINT_STORE"] == "file"
        assert not {"FORWARDER_LEADER_ELECTION", "FORWARDER_KUBERNETES_CONFIGMAP", *FROM_THE_POD} & set(env)


def test_leader_election_gets_a_role_limited_to_its_configmap_and_lease(helm_tree: Path) -> None:
    manifests = render(helm_tree, "leader-election")
    # No verb beyond what the forwarder calls; get and update only on its own ConfigMap and Lease.
    # resourceNames cannot limit create (the name is not known when it is authorized).
    assert role_rules(manifests) == {
        ("", "configmaps"): {
            "create": None,
            "get": ["cloudflare-siem-forwarder-checkpoints"],
            "update": ["cloudflare-siem-forwarder-checkpoints"],
        },
        ("coordination.k8s.io", "leases"): {
            "create": None,
            "get": ["cloudflare-siem-forwarder"],
            "update": ["cloudflare-siem-forwarder"],
        },
    }
    role, binding = the(manifests, "Role"), the(manifests, "RoleBinding")
    account = the(manifests, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    (subject,) = binding["subjects"]
    assert (subject["kind"], subject["name"]) == ("ServiceAccount", account["metadata"]["name"])
    assert subject["namespace"] == "default"

    deployment = the(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is True
    # Checkpoints are in the ConfigMap: no claim that two replicas could not share.
    assert not by_kind(manifests, "PersistentVolumeClaim")
    (state,) = [volume for volume in pod["volumes"] if volume["name"] == "cloudflare-siem-forwarder-state"]
    assert "emptyDir" in state

    (container,) = forwarder_containers(manifests)
    env = environment(container)
    assert env["FORWARDER_CHECKPOINT_STORE"] == "kubernetes"
    assert env["FORWARDER_KUBERNETES_CONFIGMAP"] == "cloudflare-siem-forwarder-checkpoints"
    assert env["FORWARDER_LEADER_ELECTION"] == "true"
    assert env["FORWARDER_LEASE_NAME"] == "cloudflare-siem-forwarder"
    assert (
        env["FORWARDER_LEASE_DURATION"],
        env["FORWARDER_LEASE_RENEW_DEADLINE"],
        env["FORWARDER_LEASE_RETRY_PERIOD"],
    ) == ("15", "10", "2")
    assert env["FORWARDER_SHARDS"] == "1"
    from_pod = {
        item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"]
        for item in container["env"]
        if "valueFrom" in item
    }
    assert from_pod == FROM_THE_POD
    known = set(settings_reference()) | PENDING_SETTINGS
    assert (
        set(env) - {f"{key}_FILE" for key in ("CLOUDFLARE_API_TOKEN", "FORWARDER_SPLUNK_HEC__TOKEN")} <= known
    )

    # The NetworkPolicy lets the pod reach the API server.
    policy = the(manifests, "NetworkPolicy")
    api = [
        rule
        for rule in policy["spec"]["egress"]
        if {"cidr": "10.0.0.1/32"} in [p.get("ipBlock") for p in rule["to"]]
    ]
    assert [port["port"] for port in api[0]["ports"]] == [443, 6443]
    budget = the(manifests, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_kubernetes_store_alone_keeps_one_pod_and_names_follow_the_release(
    helm_tree: Path, tmp_path: Path
) -> None:
    values = tmp_path / "store.yaml"
    values.write_text(yaml.safe_dump(KUBERNETES_STORE | {"fullnameOverride": "siem"}))
    manifests = render(helm_tree, "defaults", "-f", str(values))
    # The ConfigMap only: no Lease without leader election.
    assert role_rules(manifests) == {
        ("", "configmaps"): {"create": None, "get": ["siem-checkpoints"], "update": ["siem-checkpoints"]},
    }
    (container,) = forwarder_containers(manifests)
    env = environment(container)
    assert env["FORWARDER_KUBERNETES_CONFIGMAP"] == "siem-checkpoints"
    assert "FORWARDER_LEADER_ELECTION" not in env
    pod = the(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    (subject,) = the(manifests, "RoleBinding")["subjects"]
    assert subject["name"] == pod["serviceAccountName"] == "siem"


def test_shards_run_as_a_statefulset_with_a_lease_each(helm_tree: Path) -> None:
    manifests = render(helm_tree, "sharded")
    assert not by_kind(manifests, "Deployment")
    assert not by_kind(manifests, "PersistentVolumeClaim")
    statefulset = the(manifests, "StatefulSet")
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    # The ordinal at the end of each pod's name is its shard.
    assert statefulset["metadata"]["name"] == "cloudflare-siem-forwarder"
    (headless,) = [s for s in by_kind(manifests, "Service") if s["spec"].get("clusterIP") == "None"]
    assert spec["serviceName"] == headless["metadata"]["name"]
    assert "ports" not in headless["spec"], "the headless Service must not be scraped as well"
    pod_labels = spec["template"]["metadata"]["labels"]
    assert headless["spec"]["selector"].items() <= pod_labels.items()
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "cloudflare-siem-forwarder-state"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"

    leases = ["cloudflare-siem-forwarder-0", "cloudflare-siem-forwarder-1", "cloudflare-siem-forwarder-2"]
    assert role_rules(manifests)[("coordination.k8s.io", "leases")] == {
        "create": None,
        "get": leases,
        "update": leases,
    }
    assert role_rules(manifests)[("", "configmaps")]["update"] == ["cloudflare-siem-forwarder-checkpoints"]
    (container,) = forwarder_containers(manifests)
    env = environment(container)
    assert (env["FORWARDER_SHARDS"], env["FORWARDER_LEADER_ELECTION"]) == ("3", "true")
    assert env["FORWARDER_LEASE_NAME"] == "cloudflare-siem-forwarder"
    assert "FORWARDER_SHARD_ORDINAL" not in env
    (pod_name,) = [item for item in container["env"] if item["name"] == "FORWARDER_POD_NAME"]
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert spec["template"]["spec"]["automountServiceAccountToken"] is True
    budget = the(manifests, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_statefulset_and_the_deployment_share_one_pod_template(helm_tree: Path) -> None:
    sharded = the(render(helm_tree, "sharded"), "StatefulSet")["spec"]["template"]
    one = the(render(helm_tree, "sharded", "--set", "sharding.shards=1"), "Deployment")["spec"]["template"]
    for template in (sharded, one):
        (container,) = template["spec"]["containers"]
        container["env"] = [item for item in container["env"] if item["name"] != "FORWARDER_SHARDS"]
    # The only difference: each shard's state claim comes from the volumeClaimTemplates.
    one["spec"]["volumes"] = [
        v for v in one["spec"]["volumes"] if v["name"] != "cloudflare-siem-forwarder-state"
    ]
    assert sharded == one


def test_a_sidecar_with_the_kubernetes_store_binds_the_role_to_the_pods_account(helm_tree: Path) -> None:
    manifests = render(
        helm_tree,
        "sidecar",
        "--set",
        "cloudflare-siem-forwarder.checkpoints.store=kubernetes",
        "--set",
        "cloudflare-siem-forwarder.serviceAccount.name=relay",
    )
    (subject,) = the(manifests, "RoleBinding")["subjects"]
    assert (subject["kind"], subject["name"]) == ("ServiceAccount", "relay")
    assert not by_kind(manifests, "ServiceAccount"), "the parent chart's pod brings its own"
    assert set(role_rules(manifests)) == {("", "configmaps")}
    (container,) = forwarder_containers(manifests)
    assert environment(container)["FORWARDER_CHECKPOINT_STORE"] == "kubernetes"
    assert {item["name"] for item in container["env"] if "valueFrom" in item} == set(FROM_THE_POD)


def test_sharded_notes_point_at_the_statefulset(helm_tree: Path) -> None:
    result = run(
        helm_tree,
        "helm install --dry-run=client demo helm/cloudflare-siem-forwarder",
        "-f",
        "helm/examples/values-sharded.yaml",
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "rollout status statefulset/demo-cloudflare-siem-forwarder" in notes
    assert "under Lease demo-cloudflare-siem-forwarder-n" in notes
    assert "exec pod/demo-cloudflare-siem-forwarder-0 -- cloudflare-siem-forwarder check" in notes


def test_sidecar_beside_a_syslog_relay_ships_to_localhost(helm_tree: Path) -> None:
    manifests = render(helm_tree, "sidecar")
    pod = the(manifests, "Deployment")["spec"]["template"]["spec"]
    assert [container["name"] for container in pod["containers"]] == ["relay", CONTAINER]
    assert "initContainers" not in pod
    env = environment(forwarder_containers(manifests)[0])
    assert env["FORWARDER_SINKS"] == "syslog"
    assert (env["FORWARDER_SYSLOG__HOST"], env["FORWARDER_SYSLOG__TRANSPORT"]) == ("127.0.0.1", "tcp")
    relay_config = the(manifests, "ConfigMap")["data"]["rsyslog.conf"]
    assert f'address="127.0.0.1" port="{env["FORWARDER_SYSLOG__PORT"]}"' in relay_config
    assert {"cloudflare-siem-forwarder-state", "cloudflare-siem-forwarder-credentials"} <= {
        volume["name"] for volume in pod["volumes"]
    }


def test_native_sidecar_is_an_init_container_that_keeps_running(helm_tree: Path) -> None:
    manifests = render(helm_tree, "native-sidecar")
    pod = the(manifests, "Deployment")["spec"]["template"]["spec"]
    assert [container["name"] for container in pod["containers"]] == ["relay"]
    (sidecar,) = pod["initContainers"]
    assert sidecar["name"] == CONTAINER
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_notes_tell_how_to_see_it_work_and_what_is_missing(helm_tree: Path) -> None:
    result = run(helm_tree, "helm install --dry-run=client demo helm/cloudflare-siem-forwarder")
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl --namespace default logs deployment/demo-cloudflare-siem-forwarder --follow" in notes
    assert "port-forward deployment/demo-cloudflare-siem-forwarder 8080:fwd-health" in notes
    assert "curl -s http://127.0.0.1:8080/status" in notes
    assert "WARNING: no Cloudflare account: set forwarder.accountIds" in notes
    assert "WARNING: no Cloudflare credential" in notes


def test_notes_say_when_the_image_repository_is_still_the_placeholder(helm_tree: Path) -> None:
    install = "helm install --dry-run=client demo helm/cloudflare-siem-forwarder"
    placeholder = "WARNING: image.repository is still the placeholder"
    result = run(helm_tree, install)
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert placeholder in notes
    assert "ends in ImagePullBackOff" in notes
    assert "--set image.repository=registry.example.com/cloudflare-siem-forwarder" in notes
    for values in ("values-full.yaml", "values-leader-election.yaml"):
        result = run(helm_tree, install, "-f", f"helm/examples/{values}")
        assert result.returncode == 0, result.stderr
        assert placeholder not in result.stdout, values
    result = run(helm_tree, install, "--set", "mode=sidecar")
    assert placeholder in result.stdout.split("NOTES:", 1)[1]


def test_chart_runs_the_version_of_the_package() -> None:
    chart = yaml.safe_load((ROOT / "helm/cloudflare-siem-forwarder/Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_the_documented_commands_are_the_ones_tested() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("\n## Deploy on Kubernetes\n", 1)[1].split("\n## ", 1)[0]
    for command in [SIDECAR_DEPENDENCIES, *LINT.values(), *TEMPLATE.values()]:
        assert command in section, f"README.md (Deploy on Kubernetes) does not show: {command}"
