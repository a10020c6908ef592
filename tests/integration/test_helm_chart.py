"""The Helm chart, with a real helm: lint, render, and hold every manifest to the Kubernetes schemas.

The commands are the ones README.md shows
(under "Deploy on Kubernetes") (a test checks that they are there word for word);
they run in a copy of helm/ so that `helm dependency update` leaves the work tree alone. helm comes
from scripts/install-container-tools.sh (CONTAINER_TOOLS_DIR, or a `helm` on PATH);
kubernetes-validate is a Python package of the dev extra. Missing either fails in CI and skips
elsewhere.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from forwarder import __version__
from forwarder.env_reference import reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "README.md"
TOOLS_DIR = Path(os.environ.get("CONTAINER_TOOLS_DIR", "/opt/cloudflare-siem-forwarder/tools"))
INSTALL_HINT = "run scripts/install-container-tools.sh (as root), then `make test`"
STATE_DIR = "/var/lib/cloudflare-siem-forwarder"
CONTAINER = "cloudflare-siem-forwarder"
# The other engineer's FORWARDER_HEALTH_PORT is used by the chart before it is in every checkout's
# reference; once it is there this adds nothing.
PENDING_SETTINGS = {"FORWARDER_HEALTH_PORT"}
# Settings the chart owns through a value, because other parts of the manifest follow them.
SET_BY_VALUES = {"FORWARDER_HEALTH_PORT": "forwarder.healthPort"}

SIDECAR_DEPENDENCIES = "helm dependency update helm/examples/syslog-relay-sidecar"
LINT = {
    "defaults": "helm lint --strict helm/cloudflare-siem-forwarder",
    "full": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-full.yaml",
    "existing-secret": "helm lint --strict helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-existing-secret.yaml",
    "sidecar": "helm lint --strict helm/examples/syslog-relay-sidecar",
}
TEMPLATE = {
    "defaults": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder",
    "full": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-full.yaml",
    "existing-secret": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-existing-secret.yaml",
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
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ],
    "existing-secret": ["Deployment", "ServiceAccount"],
    "sidecar": ["ConfigMap", "Deployment"],
    "native-sidecar": ["ConfigMap", "Deployment"],
}
# Custom resources kubernetes-validate has no schema for; checked against what they point at instead.
CUSTOM_KINDS = {"ServiceMonitor"}

Manifest = dict[str, Any]


def missing(what: str) -> NoReturn:
    """Fail in CI (a missing tool there is a broken pipeline), skip on a developer's machine."""
    message = f"{what} is not installed; {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@cache
def helm_path() -> str | None:
    candidate = TOOLS_DIR / "helm"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("helm")


@pytest.fixture(scope="module")
def helm_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of helm/ with the sidecar example's dependency in place, and helm's homes inside it."""
    if helm_path() is None:
        missing("helm")
    root = tmp_path_factory.mktemp("helm-tree")
    shutil.copytree(ROOT / "helm", root / "helm", ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    result = run(root, SIDECAR_DEPENDENCIES)
    assert result.returncode == 0, result.stderr
    return root


def run(root: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    arguments = shlex.split(command)
    assert arguments[0] == "helm"
    helm = helm_path()
    assert helm is not None
    home = root / ".helm-home"
    environment = os.environ | {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run(
        [helm, *arguments[1:], *extra],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def render(root: Path, case: str, *extra: str) -> list[Manifest]:
    result = run(root, TEMPLATE[case], *extra)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def the(manifests: list[Manifest], kind: str) -> Manifest:
    (found,) = by_kind(manifests, kind)
    return found


def forwarder_containers(manifests: list[Manifest]) -> list[Manifest]:
    """The forwarder's container in every pod template, whether a container or a native sidecar."""
    found = []
    for deployment in by_kind(manifests, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        found += [
            container
            for container in spec.get("containers", []) + spec.get("initContainers", [])
            if container["name"] == CONTAINER
        ]
    return found


def environment(container: Manifest) -> dict[str, str]:
    return {variable["name"]: variable.get("value", "") for variable in container.get("env", [])}


@cache
def settings_reference() -> dict[str, bool]:
    """Every variable of `env-reference`, and whether it is a secret."""
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|.*\|(.*)\|$", reference(), flags=re.MULTILINE)
    return {name: "Secret: never logged" in description for name, description in rows}


def kubernetes_versions() -> list[str]:
    """The three newest Kubernetes versions kubernetes-validate has schemas for."""
    try:
        from kubernetes_validate.utils import all_versions  # type: ignore[import-untyped]
    except ImportError:
        missing("kubernetes-validate (the Python package)")
    from packaging.version import Version

    return sorted(set(all_versions()), key=Version)[-3:]


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
    versions = kubernetes_versions()
    assert len(versions) == 3, versions
    from kubernetes_validate.utils import ValidationError, validate

    problems = []
    for manifest in manifests:
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        for version in versions:
            try:
                validate(manifest, version, strict=True)
            except ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                problems.append(f"{manifest['kind']} against {version}: {where}: {error.message}")
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
    (pod,) = [deployment["spec"]["template"]["spec"] for deployment in by_kind(manifests, "Deployment")]
    volumes = {volume["name"] for volume in pod["volumes"]}
    assert set(mounts.values()) <= volumes
    assert pod["automountServiceAccountToken"] is False


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
    for name in env:
        setting = name if name in known else name.removesuffix("_FILE")
        assert setting in known, f"{name} is not a setting of the forwarder (typo in the chart?)"
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


BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("two replicas", {"replicaCount": 2}, "at '/replicaCount': maximum: got 2, want 1"),
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


def test_chart_runs_the_version_of_the_package() -> None:
    chart = yaml.safe_load((ROOT / "helm/cloudflare-siem-forwarder/Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_the_documented_commands_are_the_ones_tested() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for command in [SIDECAR_DEPENDENCIES, *LINT.values(), *TEMPLATE.values()]:
        assert command in text, f"README.md (Deploy on Kubernetes) does not show: {command}"
