"""Shared by the Kubernetes unit tests: the fake API in-process and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from forwarder.kubernetes.api import ClusterAccess, KubernetesApi
from tests.fakes.kubernetes_api import FakeKubernetesApi

NAMESPACE = "siem"


@asynccontextmanager
async def fake_api(**options: object) -> AsyncIterator[FakeKubernetesApi]:
    fake = FakeKubernetesApi(**options)  # type: ignore[arg-type]
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def client(
    fake: FakeKubernetesApi, tmp_path: Path, token: str = "token-a", timeout: float = 5.0
) -> KubernetesApi:
    directory = tmp_path / f"serviceaccount-{token}"
    directory.mkdir(exist_ok=True)
    (directory / "token").write_text(token + "\n")
    (directory / "namespace").write_text(NAMESPACE)
    access = ClusterAccess.discover(api_url=fake.url, service_account_dir=directory, environ={})
    return KubernetesApi(access, timeout=timeout, identity=token)
