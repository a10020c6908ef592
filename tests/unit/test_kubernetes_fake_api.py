"""The fake Kubernetes API's own faults, as the other tests rely on them: over HTTP and in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fakes.kubernetes_api import FakeKubernetesApi
from forwarder.coordination.api import CONFIG_MAPS, KubernetesError
from tests.unit.kubernetes_support import NAMESPACE, VirtualClock, client, fake_api

NAME = "forwarder-checkpoints"
BODY = {"metadata": {"name": NAME}, "data": {"a": "b"}}


async def test_delete_over_http_and_as_a_helper(tmp_path: Path) -> None:
    async with fake_api() as fake:
        api = client(fake, tmp_path)
        fake.put_object("configmaps", NAMESPACE, BODY)
        response = await api._http.delete(
            CONFIG_MAPS.collection(NAMESPACE) + f"/{NAME}", headers=api._authorization()
        )
        assert response.status_code == 200
        assert await api.get(CONFIG_MAPS, NAME) is None
        assert [(deleted.name, deleted.token) for deleted in fake.deletions] == [(NAME, "token-a")]
        assert fake.delete("configmaps", NAMESPACE, NAME) is False
        await api.close()


@pytest.mark.parametrize("in_process", [False, True])
async def test_faults_are_consumed_by_count_and_only_by_matching_requests(
    tmp_path: Path, in_process: bool
) -> None:
    fake = FakeKubernetesApi()
    if not in_process:
        await fake.start()
    api = client(fake, tmp_path, timeout=0.2, in_process=in_process)
    fake.put_object("configmaps", NAMESPACE, BODY)
    fake.fail_next(503, count=2, method="GET", retry_after="7")
    fake.reset_next(method="GET")
    fake.time_out_next(method="GET")
    fake.fail_next(500, plural="leases")  # never matched here
    for _ in range(2):
        with pytest.raises(KubernetesError) as raised:
            await api.get(CONFIG_MAPS, NAME)
        assert (raised.value.status, raised.value.retry_after, raised.value.retryable) == (503, 7.0, True)
    with pytest.raises(KubernetesError) as reset:
        await api.get(CONFIG_MAPS, NAME)
    assert reset.value.status is None
    with pytest.raises(KubernetesError, match=r"did not answer within 0\.2 s") as timed_out:
        await api.get(CONFIG_MAPS, NAME)
    assert timed_out.value.status is None
    assert await api.get(CONFIG_MAPS, NAME) is not None
    assert fake.pending_faults() == 1
    assert [request.fault for request in fake.requests] == ["", "", "reset", "timeout", ""]
    await api.close()
    await fake.close()


@pytest.mark.parametrize("mode", ["timeout", "refuse"])
async def test_a_partition_cuts_off_one_token_until_healed(tmp_path: Path, mode: str) -> None:
    async with fake_api() as fake:
        cut, other = client(fake, tmp_path, "token-a", timeout=0.2), client(fake, tmp_path, "token-b")
        fake.partition("token-a", mode=mode)  # type: ignore[arg-type]
        with pytest.raises(KubernetesError) as raised:
            await cut.get(CONFIG_MAPS, NAME)
        assert raised.value.retryable
        assert await other.get(CONFIG_MAPS, NAME) is None
        fake.heal("token-a")
        assert await cut.get(CONFIG_MAPS, NAME) is None
        await cut.close()
        await other.close()


async def test_an_in_process_fake_on_a_virtual_clock_hangs_in_virtual_time(tmp_path: Path) -> None:
    clock = VirtualClock()
    fake = FakeKubernetesApi(clock=clock, sleep=clock.sleep, latency=0.5)
    api = client(fake, tmp_path, timeout=3.0, in_process=True)
    fake.time_out_next()
    started = clock.now
    reading = asyncio.ensure_future(api.get(CONFIG_MAPS, NAME))
    await clock.run_until(reading.done, within=10)
    with pytest.raises(KubernetesError, match="did not answer within 3 s"):
        reading.result()
    assert clock.now == started + 3.0
    reading = asyncio.ensure_future(api.get(CONFIG_MAPS, NAME))
    await clock.run_until(reading.done, within=10)
    assert reading.result() is None
    assert clock.now == started + 3.5
    await api.close()
