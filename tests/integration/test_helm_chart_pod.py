"""Values that add to the forwarder's pod as Vector's and Fluent Bit's charts do, and commonLabels.

initContainers, extraContainers, lifecycle, dnsPolicy and dnsConfig, and commonLabels on every object
the chart makes. helm/examples/values-full.yaml sets each of them, so test_helm_chart.py lints it and
validates what it renders with kubernetes-validate; here, where each lands and what is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helm_chart_support import (
    CONTAINER,
    ROOT,
    Manifest,
    helm_tree,
    rendered,
    run,
    the,
    workloads,
)

__all__ = ["helm_tree"]

CHART = "helm/cloudflare-siem-forwarder"
TEMPLATE = f"helm template cloudflare-siem-forwarder {CHART}"
FULL = "helm/examples/values-full.yaml"
POD_VALUES = ["commonLabels", "initContainers", "extraContainers", "lifecycle", "dnsPolicy", "dnsConfig"]
COMMON = {"example.com/team": "security", "example.com/cost-centre": "cc-42"}


def values_file(directory: Path, values: dict[str, Any]) -> str:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def pod_spec(manifests: list[Manifest]) -> Manifest:
    (workload,) = workloads(manifests)
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def test_the_full_example_sets_every_pod_value() -> None:
    # What keeps each of them under test_helm_chart.py's lint and kubernetes-validate.
    example = yaml.safe_load((ROOT / FULL).read_text())
    assert all(example.get(name) for name in POD_VALUES), [
        name for name in POD_VALUES if not example.get(name)
    ]


def test_pod_values_land_in_the_pod_and_the_forwarder_container(helm_tree: Path) -> None:
    manifests = rendered(helm_tree, TEMPLATE, "-f", FULL)
    example = yaml.safe_load((helm_tree / FULL).read_text())
    pod = pod_spec(manifests)
    assert pod["initContainers"] == example["initContainers"]
    assert [container["name"] for container in pod["containers"]] == [CONTAINER, "otel-collector"]
    assert pod["containers"][1] == example["extraContainers"][0]
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert pod["dnsConfig"] == {"options": [{"name": "ndots", "value": "2"}]}
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert "lifecycle" not in pod["containers"][1]


def test_defaults_add_nothing_to_the_pod(helm_tree: Path) -> None:
    pod = pod_spec(rendered(helm_tree, TEMPLATE))
    assert not {"initContainers", "dnsPolicy", "dnsConfig"} & set(pod)
    (container,) = pod["containers"]
    assert "lifecycle" not in container


def test_the_statefulset_gets_them_too(helm_tree: Path, tmp_path: Path) -> None:
    extra = {key: yaml.safe_load((helm_tree / FULL).read_text())[key] for key in POD_VALUES}
    manifests = rendered(
        helm_tree, TEMPLATE, "-f", "helm/examples/values-sharded.yaml", "-f", values_file(tmp_path, extra)
    )
    pod = pod_spec(manifests)
    assert the(manifests, "StatefulSet")
    assert [container["name"] for container in pod["initContainers"]] == ["wait-for-splunk"]
    assert [container["name"] for container in pod["containers"]] == [CONTAINER, "otel-collector"]
    assert pod["dnsConfig"] == extra["dnsConfig"]


@pytest.mark.parametrize(
    "example",
    ["values-full.yaml", "values-leader-election.yaml", "values-sharded.yaml", "values-existing-secret.yaml"],
)
def test_common_labels_are_on_every_object_and_every_pod(
    helm_tree: Path, tmp_path: Path, example: str
) -> None:
    manifests = rendered(
        helm_tree,
        TEMPLATE,
        "-f",
        f"helm/examples/{example}",
        "-f",
        values_file(tmp_path, {"commonLabels": COMMON}),
    )
    assert len(manifests) >= 2
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert COMMON.items() <= labels.items(), manifest["kind"]
        # The chart's own labels stay, and selectors do not take the common ones.
        assert labels["app.kubernetes.io/name"] == "cloudflare-siem-forwarder"
    for workload in workloads(manifests):
        assert COMMON.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
        assert not COMMON.keys() & workload["spec"]["selector"]["matchLabels"].keys()


def test_common_labels_reach_what_sidecar_mode_makes(helm_tree: Path, tmp_path: Path) -> None:
    values = {
        "mode": "sidecar",
        "commonLabels": COMMON,
        "credentials": {"values": {"CLOUDFLARE_API_TOKEN": "a"}},
    }
    manifests = rendered(helm_tree, TEMPLATE, "-f", values_file(tmp_path, values))
    assert sorted(manifest["kind"] for manifest in manifests) == ["PersistentVolumeClaim", "Secret"]
    for manifest in manifests:
        assert COMMON.items() <= manifest["metadata"]["labels"].items()


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "a label the chart sets",
        {"commonLabels": {"app.kubernetes.io/name": "mine"}},
        "commonLabels.app.kubernetes.io/name: the chart sets this label itself",
    ),
    (
        "a label set twice",
        {"commonLabels": {"team": "a"}, "podLabels": {"team": "b"}},
        "commonLabels.team is set in podLabels too: set it in one place",
    ),
    (
        "a label value Kubernetes refuses",
        {"commonLabels": {"team": "security engineering"}},
        "at '/commonLabels/team': 'security engineering' does not match pattern",
    ),
    (
        "an init container in a sidecar",
        {"mode": "sidecar", "initContainers": [{"name": "wait", "image": "busybox"}]},
        "initContainers in mode: sidecar: the pod is the parent chart's; set it there",
    ),
    (
        "DNS settings in a sidecar",
        {"mode": "sidecar", "dnsPolicy": "Default"},
        "dnsPolicy in mode: sidecar: the pod is the parent chart's; set it there",
    ),
    (
        "an extra container with the forwarder's name",
        {"extraContainers": [{"name": CONTAINER, "image": "busybox"}]},
        "may not use the name cloudflare-siem-forwarder",
    ),
    (
        "a container without an image",
        {"extraContainers": [{"name": "relay"}]},
        "at '/extraContainers/0': missing property 'image'",
    ),
    (
        "dnsPolicy None without nameservers",
        {"dnsPolicy": "None", "dnsConfig": {"searches": ["example.com"]}},
        "at '/dnsConfig': missing property 'nameservers'",
    ),
    (
        "an unknown dnsPolicy",
        {"dnsPolicy": "ClusterFirstWithHostNetwork"},
        "at '/dnsPolicy': value must be one of",
    ),
    (
        "a misspelt lifecycle hook",
        {"lifecycle": {"preStart": {"exec": {"command": ["true"]}}}},
        "at '/lifecycle': additional properties 'preStart' not allowed",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_pod_values_that_cannot_work_are_refused(
    helm_tree: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    result = run(helm_tree, TEMPLATE, "-f", values_file(tmp_path, values))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not result.stdout.strip()
