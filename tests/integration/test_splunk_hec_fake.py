"""The fake HEC answers the way Splunk documents: if it did not, the sink tests would prove nothing."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from fakes.splunk_hec import FakeHec, HecToken

pytestmark = pytest.mark.integration

PLAIN = "aaaaaaaa-0000-4000-8000-000000000001"
ACKED = "aaaaaaaa-0000-4000-8000-000000000002"
OFF = "aaaaaaaa-0000-4000-8000-000000000003"
AUTH = {"Authorization": f"Splunk {PLAIN}"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeHec]:
    tokens = [
        HecToken(PLAIN, allowed_indexes=frozenset({"main"})),
        HecToken(ACKED, use_ack=True),
        HecToken(OFF, enabled=False),
    ]
    hec = FakeHec(tokens)
    async with hec.serve():
        yield hec


@pytest.fixture
async def client(fake: FakeHec) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, trust_env=False) as http:
        yield http


async def test_events_back_to_back_with_or_without_whitespace(
    fake: FakeHec, client: httpx.AsyncClient
) -> None:
    body = b'{"event":"a"}{"event":"b"}  \n\t{"event":{"c":1},"time":"1.5"}\r\n'
    response = await client.post("/services/collector/event", content=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"text": "Success", "code": 0}
    assert [event.event for event in fake.indexed] == ["a", "b", {"c": 1}]


async def test_gzip_bodies_are_decoded(fake: FakeHec, client: httpx.AsyncClient) -> None:
    body = gzip.compress(b'{"event":"zipped"}')
    headers = {**AUTH, "Content-Encoding": "gzip"}
    response = await client.post("/services/collector/event", content=body, headers=headers)
    assert response.json()["code"] == 0
    assert fake.indexed[0].event == "zipped"
    assert fake.requests[0].raw_body == body


@pytest.mark.parametrize(
    ("body", "number", "code", "text"),
    [
        (b'{"event":1}{"event":2}{"event":3', 2, 6, "Invalid data format"),
        (b'{"event":1}[1]', 1, 6, "Invalid data format"),
        (b'{"event":1}{"event":2,"time":"noon"}', 1, 6, "Invalid data format"),
        (b'{"event":1}{"fields":{"a":"b"}}', 1, 12, "Event field is required"),
        (b'{"event":""}', 0, 13, "Event field cannot be blank"),
        (b'{"event":1}{"event":1,"fields":{"a":{"b":1}}}', 1, 15, "Error in handling indexed fields"),
        (b'{"event":1}{"event":1}{"event":1,"index":"secret"}', 2, 7, "Incorrect index"),
    ],
)
async def test_the_first_bad_event_stops_the_request(
    fake: FakeHec, client: httpx.AsyncClient, body: bytes, number: int, code: int, text: str
) -> None:
    response = await client.post("/services/collector/event", content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {"text": text, "code": code, "invalid-event-number": number}
    # The events before it are indexed.
    assert len(fake.indexed) == number


@pytest.mark.parametrize(
    ("headers", "query", "status", "code"),
    [
        ({}, "", 401, 2),
        ({"Authorization": f"Bearer {PLAIN}"}, "", 401, 3),
        ({"Authorization": "Splunk nope"}, "", 403, 4),
        ({"Authorization": f"Splunk {OFF}"}, "", 403, 1),
        ({}, f"?token={PLAIN}", 400, 16),
    ],
)
async def test_authorization(
    fake: FakeHec, client: httpx.AsyncClient, headers: dict[str, str], query: str, status: int, code: int
) -> None:
    response = await client.post(f"/services/collector/event{query}", content=b'{"event":1}', headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert fake.indexed == []


async def test_an_empty_request_is_no_data(client: httpx.AsyncClient) -> None:
    response = await client.post("/services/collector/event", content=b"  ", headers=AUTH)
    assert (response.status_code, response.json()) == (400, {"text": "No data", "code": 5})


async def test_too_large(fake: FakeHec, client: httpx.AsyncClient) -> None:
    fake.max_content_length = 10
    response = await client.post("/services/collector/event", content=b'{"event":"0123456789"}', headers=AUTH)
    assert response.status_code == 413


async def test_acknowledgement_protocol(fake: FakeHec, client: httpx.AsyncClient) -> None:
    acked = {"Authorization": f"Splunk {ACKED}"}
    missing = await client.post("/services/collector/event", content=b'{"event":1}', headers=acked)
    assert (missing.status_code, missing.json()["code"]) == (400, 10)
    bad = await client.post(
        "/services/collector/event",
        content=b'{"event":1}',
        headers={**acked, "X-Splunk-Request-Channel": "x"},
    )
    assert bad.json()["code"] == 11

    channel = {**acked, "X-Splunk-Request-Channel": str(uuid.uuid4())}
    first = await client.post("/services/collector/event", content=b'{"event":1}', headers=channel)
    second = await client.post("/services/collector/event", content=b'{"event":2}', headers=channel)
    assert first.json() == {"text": "Success", "code": 0, "ackId": 0}
    assert second.json()["ackId"] == 1

    fake.ack_delay_queries = 0
    statuses = await client.post("/services/collector/ack", json={"acks": [0, 1, 5]}, headers=channel)
    assert statuses.json() == {"acks": {"0": True, "1": True, "5": False}}
    # True once, then forgotten.
    again = await client.post("/services/collector/ack", json={"acks": [0]}, headers=channel)
    assert again.json() == {"acks": {"0": False}}
    # A channel in the query string works too.
    other = str(uuid.uuid4())
    by_query = await client.post(
        f"/services/collector/event?channel={other}", content=b'{"event":3}', headers=acked
    )
    assert by_query.json()["ackId"] == 0


async def test_ack_on_a_token_without_acknowledgement(client: httpx.AsyncClient) -> None:
    response = await client.post("/services/collector/ack", json={"acks": [0]}, headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (400, 14)


async def test_health(fake: FakeHec, client: httpx.AsyncClient) -> None:
    healthy = await client.get("/services/collector/health")
    assert (healthy.status_code, healthy.json()) == (200, {"text": "HEC is healthy", "code": 17})
    unknown = await client.get("/services/collector/health", headers={"Authorization": "Splunk nope"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, 21)
    disabled = await client.get("/services/collector/health", headers={"Authorization": f"Splunk {OFF}"})
    assert disabled.json()["code"] == 22
    fake.unhealthy_code = 20
    sick = await client.get("/services/collector/health/1.0")
    assert (sick.status_code, sick.json()["code"]) == (503, 20)
