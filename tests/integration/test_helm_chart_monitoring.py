"""Prometheus Operator objects: ServiceMonitor, PodMonitor and a PrometheusRule with the documented alerts.

kubernetes-validate has no schema for these custom resources (monitoring.coreos.com/v1), so the tests
check their structure here instead: what they select, the port and path they scrape, and that the
rules are the documentation's "Alert rules", word for word, so the two cannot drift. The objects they
point at, and the chart with these values, are linted and validated like every other case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helm_chart_support import (
    CONTAINER,
    ROOT,
    Manifest,
    forwarder_containers,
    helm_tree,
    rendered,
    run,
    the,
    validation_problems,
)

__all__ = ["helm_tree"]

CHART = "helm/cloudflare-siem-forwarder"
# A release name unlike the chart's: the job label must not depend on it.
TEMPLATE = f"helm template demo {CHART} --namespace security"
LINT = f"helm lint --strict {CHART}"
FULL = "helm/examples/values-full.yaml"
MONITORING = {"monitoring.coreos.com/v1"}
TLS: dict[str, Any] = {
    "serverName": "cloudflare-siem-forwarder.security.svc",
    "ca": {"configMap": {"name": "metrics-ca", "key": "ca.crt"}},
}
POD_MONITOR: dict[str, Any] = {
    "podMonitor": {
        "enabled": True,
        "namespace": "monitoring",
        "labels": {"release": "kube-prometheus-stack"},
        "interval": "20s",
        "scrapeTimeout": "5s",
        "scheme": "https",
        "tlsConfig": TLS,
        "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "python_gc_.*", "action": "drop"}],
    },
    "prometheusRule": {"enabled": True},
}
SERVICE_MONITOR: dict[str, Any] = {
    "serviceMonitor": {"enabled": True, "namespace": "monitoring", "scheme": "https", "tlsConfig": TLS},
}


def documented_alert_rules() -> dict[str, Any]:
    """The YAML block under the "Alert rules" heading of README.md or of a page under docs/."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8") if page.is_file() else ""
        heading = re.search(r"^(#+) Alert rules\n", text, flags=re.MULTILINE)
        if heading is None:
            continue
        block = re.search(r"^```yaml\n(.*?)^```", text[heading.end() :], flags=re.MULTILINE | re.DOTALL)
        assert block is not None, f"{page}: no ```yaml block under the Alert rules heading"
        found: dict[str, Any] = yaml.safe_load(block.group(1))
        return found
    raise AssertionError(f"no 'Alert rules' heading in {', '.join(str(page) for page in pages)}")


def values_file(directory: Path, values: dict[str, Any]) -> str:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def endpoint_of(monitor: Manifest) -> Manifest:
    endpoints = monitor["spec"].get("endpoints") or monitor["spec"]["podMetricsEndpoints"]
    (endpoint,) = endpoints
    found: Manifest = endpoint
    return found


def job_of_forwarder_down(rule: Manifest) -> str:
    (forwarder_down,) = [
        item for item in rule["spec"]["groups"][0]["rules"] if item["alert"] == "ForwarderDown"
    ]
    match = re.search(r'job="([^"]+)"', forwarder_down["expr"])
    assert match is not None, forwarder_down["expr"]
    return match.group(1)


def test_the_rules_are_the_documented_alert_rules(helm_tree: Path) -> None:
    documented = documented_alert_rules()
    (group,) = documented["groups"]
    defaults = yaml.safe_load((ROOT / CHART / "values.yaml").read_text())["prometheusRule"]["rules"]
    assert defaults == group["rules"], "values.yaml's prometheusRule.rules differ from the documentation's"
    rule = the(rendered(helm_tree, TEMPLATE, "-f", FULL), "PrometheusRule")
    assert rule["spec"]["groups"] == [group]
    alerts = {item["alert"] for item in group["rules"]}
    assert {"ForwarderDown", "ForwarderSinkConfigError", "ForwarderDeadLetters"} <= alerts
    assert len(alerts) == len(group["rules"]), "an alert is named twice"


def test_the_prometheus_rule_is_where_its_values_say(helm_tree: Path) -> None:
    rule = the(rendered(helm_tree, TEMPLATE, "-f", FULL), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"
    summaries = [
        item["annotations"]["summary"] for item in rule["spec"]["groups"][0]["rules"] if "annotations" in item
    ]
    # Prometheus' own template syntax reaches it untouched, not rendered by helm.
    assert any("{{ $labels.sink }}" in summary for summary in summaries)


def test_the_service_monitor_scrapes_the_service_across_namespaces(helm_tree: Path, tmp_path: Path) -> None:
    manifests = rendered(helm_tree, TEMPLATE, "-f", values_file(tmp_path, SERVICE_MONITOR))
    service, monitor = the(manifests, "Service"), the(manifests, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["security"]}
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    endpoint = endpoint_of(monitor)
    assert (endpoint["port"], endpoint["path"]) == ("http-metrics", "/metrics")
    assert (endpoint["scheme"], endpoint["tlsConfig"]) == ("https", TLS)


def test_by_default_the_service_monitor_is_in_the_release_namespace_over_http(
    helm_tree: Path, tmp_path: Path
) -> None:
    values = values_file(tmp_path, {"serviceMonitor": {"enabled": True}})
    monitor = the(rendered(helm_tree, TEMPLATE, "-f", values), "ServiceMonitor")
    assert "namespace" not in monitor["metadata"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["security"]}
    assert not {"scheme", "tlsConfig"} & set(endpoint_of(monitor))


def test_the_pod_monitor_scrapes_the_forwarders_health_port(helm_tree: Path, tmp_path: Path) -> None:
    manifests = rendered(helm_tree, TEMPLATE, "-f", values_file(tmp_path, POD_MONITOR))
    monitor = the(manifests, "PodMonitor")
    assert monitor["apiVersion"] in MONITORING
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["security"]}
    pod_labels = the(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    endpoint = endpoint_of(monitor)
    (container,) = forwarder_containers(manifests)
    assert endpoint["port"] in [port["name"] for port in container["ports"]]
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("20s", "5s")
    assert (endpoint["scheme"], endpoint["tlsConfig"]) == ("https", TLS)
    assert endpoint["metricRelabelings"] == POD_MONITOR["podMonitor"]["metricRelabelings"]
    # It needs no Service.
    assert not [manifest for manifest in manifests if manifest["kind"] == "Service"]


@pytest.mark.parametrize("values", [POD_MONITOR, SERVICE_MONITOR], ids=["podMonitor", "serviceMonitor"])
def test_forwarder_down_selects_the_job_either_monitor_gives(
    helm_tree: Path, tmp_path: Path, values: dict[str, Any]
) -> None:
    path = values_file(tmp_path, values | {"prometheusRule": {"enabled": True}})
    manifests = rendered(helm_tree, TEMPLATE, "-f", path)
    monitors = [manifest for manifest in manifests if manifest["kind"] in {"PodMonitor", "ServiceMonitor"}]
    (monitor,) = monitors
    scraped = the(manifests, "Service" if monitor["kind"] == "ServiceMonitor" else "Deployment")
    labels = scraped["metadata"]["labels"]
    if monitor["kind"] == "PodMonitor":
        labels = scraped["spec"]["template"]["metadata"]["labels"]
    # The job is the value of the label jobLabel names, on the Service or the pod.
    assert labels[monitor["spec"]["jobLabel"]] == job_of_forwarder_down(the(manifests, "PrometheusRule"))


@pytest.mark.parametrize("values", [POD_MONITOR, SERVICE_MONITOR], ids=["podMonitor", "serviceMonitor"])
def test_monitoring_values_lint_and_validate_strictly(
    helm_tree: Path, tmp_path: Path, values: dict[str, Any]
) -> None:
    path = values_file(tmp_path, values)
    result = run(helm_tree, LINT, "-f", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout
    manifests = rendered(helm_tree, TEMPLATE, "-f", path)
    assert not validation_problems(manifests, {"PodMonitor", "ServiceMonitor", "PrometheusRule"})


def test_the_rules_come_with_a_sidecar_too(helm_tree: Path, tmp_path: Path) -> None:
    values = {"mode": "sidecar", "prometheusRule": {"enabled": True}, "podMonitor": {"enabled": True}}
    manifests = rendered(helm_tree, TEMPLATE, "-f", values_file(tmp_path, values))
    # The pod is the parent chart's, which scrapes it; the alerts are the forwarder's.
    assert sorted(manifest["kind"] for manifest in manifests) == ["PersistentVolumeClaim", "PrometheusRule"]
    assert all(container["name"] != CONTAINER for container in forwarder_containers(manifests))


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "both monitors",
        {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}},
        "serviceMonitor.enabled and podMonitor.enabled: Prometheus would scrape every pod twice",
    ),
    ("an unknown scheme", {"podMonitor": {"scheme": "ftp"}}, "at '/podMonitor/scheme': value must be one of"),
    (
        "a namespace that is not one",
        {"serviceMonitor": {"namespace": "Monitoring"}},
        "at '/serviceMonitor/namespace'",
    ),
    (
        "a misspelt monitor value",
        {"podMonitor": {"tlsconfig": {}}},
        "at '/podMonitor': additional properties 'tlsconfig' not allowed",
    ),
    (
        "a rule without an expression",
        {"prometheusRule": {"rules": [{"alert": "Mine", "expression": "up == 0"}]}},
        "at '/prometheusRule/rules/0'",
    ),
    (
        "a duration that is not one",
        {"prometheusRule": {"rules": [{"alert": "A", "expr": "1", "for": "5 min"}]}},
        "at '/prometheusRule/rules/0/for'",
    ),
    (
        "a common label the rule's labels set too",
        {"commonLabels": {"release": "a"}, "prometheusRule": {"labels": {"release": "b"}}},
        "commonLabels.release is set in prometheusRule.labels too",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_monitoring_values_that_cannot_work_are_refused(
    helm_tree: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    result = run(helm_tree, TEMPLATE, "-f", values_file(tmp_path, values))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not result.stdout.strip()
