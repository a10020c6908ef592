"""The chart's high-availability setups: the kubernetes checkpoint store, leader election, shards.

What each renders (a Role limited to its ConfigMap and Leases, a StatefulSet per shard, the pod's
own name and namespace from the downward API), from the examples docs/kubernetes.md shows.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.helm_chart_support import (
    FROM_THE_POD,
    KUBERNETES_STORE,
    PENDING_SETTINGS,
    Manifest,
    by_kind,
    environment,
    forwarder_containers,
    helm_tree,
    render,
    run,
    settings_reference,
    the,
)

__all__ = ["helm_tree"]


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
