"""What the chart tests share: a real helm in a copy of helm/, rendering, and kubernetes-validate.

helm comes from scripts/install-container-tools.sh (CONTAINER_TOOLS_DIR, or a `helm` on PATH);
kubernetes-validate is a Python package of the dev extra. Missing either fails in CI and skips
elsewhere.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from forwarder.env_reference import reference
from tests.missing_tool import missing_tool

ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = Path(os.environ.get("CONTAINER_TOOLS_DIR", "/opt/cloudflare-siem-forwarder/tools"))
INSTALL_HINT = "run scripts/install-container-tools.sh (as root), then `make test`"
CONTAINER = "cloudflare-siem-forwarder"
SIDECAR_DEPENDENCIES = "helm dependency update helm/examples/syslog-relay-sidecar"
# The commands docs/kubernetes.md shows (test_helm_chart.py checks they are there word for word), by case.
LINT = {
    "defaults": "helm lint --strict helm/cloudflare-siem-forwarder",
    "full": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-full.yaml",
    "existing-secret": "helm lint --strict helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-existing-secret.yaml",
    "leader-election": "helm lint --strict helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-leader-election.yaml",
    "sharded": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-sharded.yaml",
    "sentinel": "helm lint --strict helm/cloudflare-siem-forwarder -f helm/examples/values-sentinel.yaml",
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
    "sentinel": "helm template cloudflare-siem-forwarder helm/cloudflare-siem-forwarder "
    "-f helm/examples/values-sentinel.yaml",
    "sidecar": "helm template relay helm/examples/syslog-relay-sidecar",
    "native-sidecar": "helm template relay helm/examples/syslog-relay-sidecar --set nativeSidecar=true",
}
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

KUBERNETES_STORE: dict[str, Any] = {"checkpoints": {"store": "kubernetes"}}
LEADER_ELECTION: dict[str, Any] = KUBERNETES_STORE | {"leaderElection": {"enabled": True}}


Manifest = dict[str, Any]


def missing(what: str) -> NoReturn:
    missing_tool(f"{what} is not installed; {INSTALL_HINT}")


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


def rendered(root: Path, command: str, *extra: str) -> list[Manifest]:
    """The manifests `command` (a helm template) prints; fails the test when helm refuses."""
    result = run(root, command, *extra)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def render(root: Path, case: str, *extra: str) -> list[Manifest]:
    return rendered(root, TEMPLATE[case], *extra)


@cache
def settings_reference() -> dict[str, bool]:
    """Every variable of `env-reference`, and whether it is a secret."""
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|.*\|(.*)\|$", reference(), flags=re.MULTILINE)
    return {name: "Secret: never logged" in description for name, description in rows}


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def the(manifests: list[Manifest], kind: str) -> Manifest:
    (found,) = by_kind(manifests, kind)
    return found


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    """The Deployments and StatefulSets: what has a pod template."""
    return by_kind(manifests, "Deployment") + by_kind(manifests, "StatefulSet")


def forwarder_containers(manifests: list[Manifest]) -> list[Manifest]:
    """The forwarder's container in every pod template, whether a container or a native sidecar."""
    found = []
    for workload in workloads(manifests):
        spec = workload["spec"]["template"]["spec"]
        found += [
            container
            for container in spec.get("containers", []) + spec.get("initContainers", [])
            if container["name"] == CONTAINER
        ]
    return found


def environment(container: Manifest) -> dict[str, str]:
    return {variable["name"]: variable.get("value", "") for variable in container.get("env", [])}


def kubernetes_versions() -> list[str]:
    """The three newest Kubernetes versions kubernetes-validate has schemas for."""
    try:
        from kubernetes_validate.utils import all_versions  # type: ignore[import-untyped]
    except ImportError:
        missing("kubernetes-validate (the Python package)")
    from packaging.version import Version

    return sorted(set(all_versions()), key=Version)[-3:]


def validation_problems(manifests: Iterable[Manifest], custom_kinds: set[str]) -> list[str]:
    """What kubernetes-validate --strict finds, against the three newest versions, one line per problem.

    Kinds in ``custom_kinds`` (custom resources it has no schema for) are left to the caller.
    """
    versions = kubernetes_versions()
    assert len(versions) == 3, versions
    from kubernetes_validate.utils import ValidationError, validate

    problems = []
    for manifest in manifests:
        if manifest["kind"] in custom_kinds:
            continue
        for version in versions:
            try:
                validate(manifest, version, strict=True)
            except ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                problems.append(f"{manifest['kind']} against {version}: {where}: {error.message}")
    return problems
