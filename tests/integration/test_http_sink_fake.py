"""The fake intake against the documentation of each receiver it plays, driven by plain httpx requests
(not the sink), so that a sink test's green means what the documentation means."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from fakes.http_intake import FakeIntake, busy
from tests.support.http_sink_support import BASIC

pytestmark = pytest.mark.integration

EVENT = {"_forwarder": {"event_id": "e1"}, "user": "a@example.com"}


async def post(url: str, body: bytes, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


async def test_datadog_takes_an_array_with_its_key_and_answers_202() -> None:
    fake = FakeIntake("datadog")
    async with fake.serve():
        accepted = await post(fake.endpoint, json.dumps([EVENT, EVENT]).encode(), **{
            "Content-Type": "application/json", "DD-API-KEY": fake.key})  # fmt: skip
        missing = await post(fake.endpoint, b"[]", **{"Content-Type": "application/json"})
        wrong = await post(fake.endpoint, b"[]", **{"Content-Type": "application/json", "DD-API-KEY": "nope"})
    assert (accepted.status_code, accepted.json()) == (202, {})
    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert fake.ids() == {"e1": 2}


async def test_datadog_limits_entries_and_size_and_truncates_big_logs() -> None:
    fake = FakeIntake("datadog")
    headers = {"Content-Type": "application/json", "DD-API-KEY": fake.key}
    async with fake.serve():
        too_many = await post(fake.endpoint, json.dumps([{}] * 1001).encode(), **headers)
        too_big = await post(fake.endpoint, json.dumps([{"x": "y" * 5_000_001}]).encode(), **headers)
        truncated = await post(fake.endpoint, json.dumps([{"x": "y" * 1_000_001}]).encode(), **headers)
    assert (too_many.status_code, too_big.status_code) == (413, 413)
    assert truncated.status_code == 202
    assert fake.truncated == 1


async def test_sumo_logic_reads_lines_at_its_secret_url() -> None:
    fake = FakeIntake("sumo_logic")
    async with fake.serve():
        body = gzip.compress(b"\n".join(json.dumps(EVENT).encode() for _ in range(3)) + b"\n")
        accepted = await post(fake.endpoint, body, **{"Content-Encoding": "gzip"})
        wrong = await post(f"{fake.url}/receiver/v1/http/other", b"{}\n")
    assert (accepted.status_code, accepted.content) == (200, b"")
    assert wrong.status_code == 401
    assert fake.ids() == {"e1": 3}


@pytest.mark.parametrize("flavor", ["logstash", "vector"])
async def test_logstash_and_vector_ask_for_basic_auth(flavor: str) -> None:
    fake = FakeIntake(flavor, basic=BASIC)  # type: ignore[arg-type]
    encoding = "application/json" if flavor == "logstash" else "application/x-ndjson"
    body = json.dumps([EVENT]).encode() if flavor == "logstash" else json.dumps(EVENT).encode() + b"\n"
    async with fake.serve(), httpx.AsyncClient() as client:
        refused = await client.post(fake.endpoint, content=body, headers={"Content-Type": encoding})
        accepted = await client.post(
            fake.endpoint, content=body, headers={"Content-Type": encoding}, auth=BASIC
        )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert accepted.status_code == 200
    assert fake.ids() == {"e1": 1}


async def test_a_body_it_cannot_read_is_400_and_nothing_of_it_is_kept() -> None:
    fake = FakeIntake("vector")
    async with fake.serve():
        answer = await post(fake.endpoint, json.dumps(EVENT).encode() + b"\n{not json\n")
    assert answer.status_code == 400
    assert fake.received == []


async def test_a_backlogged_logstash_answers_429_with_retry_after() -> None:
    fake = FakeIntake("logstash")
    fake.inject(busy("5"))
    async with fake.serve():
        answer = await post(fake.endpoint, b"[]", **{"Content-Type": "application/json"})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "5")
