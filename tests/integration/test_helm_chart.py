"""The Helm chart, with a real helm: lint, render, and hold every manifest to the Kubernetes schemas.

The commands are the ones docs/kubernetes.md shows (a test here checks that they are there word
for word), listed in helm_chart_support.py with how helm and kubernetes-validate
are found and what happens when they are missing. They run in a copy of helm/ so that
`helm dependency update` leaves the work tree alone.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from forwarder import __version__
from tests.integration.helm_chart_support import (
    CONTAINER,
    LINT,
    PENDING_SETTINGS,
    ROOT,
    SIDECAR_DEPENDENCIES,
    TEMPLATE,
    by_kind,
    environment,
    forwarder_containers,
    helm_tree,
    render,
    run,
    settings_reference,
    the,
    validation_problems,
    workloads,
)

__all__ = ["helm_tree"]

DOCS = ROOT / "docs" / "kubernetes.md"
STATE_DIR = "/var/lib/cloudflare-siem-forwarder"
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
    "sentinel": ["Deployment", "PersistentVolumeClaim", "ServiceAccount"],
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
    for command in [SIDECAR_DEPENDENCIES, *LINT.values(), *TEMPLATE.values()]:
        assert command in text, f"docs/kubernetes.md does not show: {command}"
