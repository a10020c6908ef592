"""The chart's Sentinel example (helm/examples/values-sentinel.yaml): AKS workload identity wired up, and
the environment it renders is one the sentinel sink accepts once AKS adds its AZURE_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from forwarder.sinks.sentinel import SentinelSettings
from tests.integration.helm_chart_support import (
    by_kind,
    environment,
    forwarder_containers,
    helm_tree,
    render,
    workloads,
)

pytestmark = pytest.mark.integration
__all__ = ["helm_tree"]


def test_the_sentinel_example_uses_workload_identity(
    helm_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(helm_tree, "sentinel")
    (account,) = by_kind(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    (workload,) = workloads(manifests)
    assert workload["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert workload["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]

    (container,) = forwarder_containers(manifests)
    env = environment(container)
    assert env["FORWARDER_SINKS"] == "sentinel"
    # What the AKS webhook adds to the pod.
    monkeypatch.setenv("AZURE_TENANT_ID", "11111111-1111-4111-8111-111111111111")
    monkeypatch.setenv("AZURE_CLIENT_ID", "22222222-2222-4222-8222-222222222222")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token")
    for name, value in env.items():
        if name.startswith("FORWARDER_SENTINEL__"):
            monkeypatch.setenv(name, value)
    settings = SentinelSettings()
    assert settings.credential == "workload_identity"
    assert settings.url.host is not None
    assert settings.url.host.endswith(".ingest.monitor.azure.com")
    assert settings.rule_id.startswith("dcr-")
    # Nothing secret for Azure: only the Cloudflare token comes from the Secret.
    assert not any(name.startswith("FORWARDER_SENTINEL__") and name.endswith("_FILE") for name in env)
