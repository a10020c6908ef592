"""Events/s into the fake `_bulk` endpoint: our sink against elasticsearch-py, in the same run.

The fake (fakes/elasticsearch/) runs in a process of its own, so the client's numbers
are not shared with the server's work; both clients send the same documents with the same ids
to the same fake, each into targets of its own (a second pass would only meet 409s). Every run is
checked afterwards with `_count`: a number for events that did not arrive is not a number.

    .venv/bin/python -m benchmarks.elasticsearch_bench --events 50000 --repeat 3

Needs elasticsearch[async] (the baseline): `pip install "elasticsearch[async]>=8"`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.elasticsearch import ElasticsearchSettings, ElasticsearchSink

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 3, 1, tzinfo=UTC)
BATCH = 500


# The baseline's input: the documents as dicts, as a client library is handed them (events keep
# only the encoded bytes). Filled by make_events, outside any timing.
DOCUMENTS: dict[str, Any] = {}


def make_events(count: int) -> list[Event]:
    """Access request events shaped like the ECS mapping's output (about 900 bytes each)."""
    events = []
    for number in range(count):
        created = (START + timedelta(milliseconds=number)).isoformat().replace("+00:00", "Z")
        data = {
            "ray_id": f"{number:016x}",
            "created_at": created,
            "user_email": f"user{number % 5000}@example.com",
            "ip_address": f"198.51.100.{number % 250}",
            "app_domain": "intranet.example.com/admin",
            "action": "login",
            "allowed": number % 7 != 0,
            "country": "de",
            "connection": "onetimepin",
            "app_uid": "df7e2w5f-02b7-4d9d-af26-8d1988fca630",
        }
        record = make_record(
            LogType.ACCESS_REQUESTS, "023e105f4ecef8ad9ca31a8372d0c353", data, observed=START
        )
        document = {
            "@timestamp": created,
            "ecs": {"version": "8.17.0"},
            "event": {
                "id": record.event_id,
                "kind": "event",
                "category": ["authentication"],
                "type": ["start"],
                "action": "login",
                "outcome": "success" if data["allowed"] else "failure",
                "dataset": "cloudflare.access_requests",
                "module": "cloudflare",
            },
            "user": {"email": data["user_email"], "name": data["user_email"]},
            "source": {"ip": data["ip_address"], "geo": {"country_iso_code": "DE"}},
            "url": {"domain": "intranet.example.com", "path": "/admin"},
            "cloud": {"provider": "cloudflare", "account": {"id": record.account_id}},
            "observer": {"vendor": "Cloudflare", "product": "Access"},
            "related": {"ip": [data["ip_address"]], "user": [data["user_email"]]},
            "cloudflare": {"access": data},
        }
        events.append(Event(record=record, body=orjson.dumps(document)))
        DOCUMENTS[record.event_id] = document
    return events


@dataclass
class Measurement:
    name: str
    seconds: list[float]
    cpu: list[float]
    events: int

    def row(self) -> str:
        wall = statistics.median(self.seconds)
        cpu = statistics.median(self.cpu)
        return f"| {self.name} | {self.events / wall:,.0f} | {wall:.2f} | {cpu / self.events * 1e6:.1f} |"


async def count(url: str, target: str) -> int:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get(f"/{target}/_count")
        return int(response.json()["count"]) if response.status_code == 200 else 0


async def ours(url: str, events: Sequence[Event], target: str, gzip: bool, concurrency: int) -> None:
    settings = ElasticsearchSettings(
        url=url, target_access_requests=target, gzip=gzip, concurrency=concurrency
    )
    sink = ElasticsearchSink(settings)
    batches = [events[start : start + BATCH] for start in range(0, len(events), BATCH)]
    queue: asyncio.Queue[Sequence[Event]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker() -> None:
        # What the pipeline does: up to `concurrency` batches in flight, each retried until delivered.
        while not queue.empty():
            pending = queue.get_nowait()
            while pending:
                result = await sink.send(pending)
                assert not result.rejected, result.rejected[:1]
                pending = result.retry

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await sink.close()


async def baseline(url: str, events: Sequence[Event], target: str, gzip: bool) -> None:
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.helpers import async_streaming_bulk

    client = AsyncElasticsearch(url, http_compress=gzip, request_timeout=60)

    async def actions() -> Any:
        for event in events:
            source = DOCUMENTS[event.event_id]
            yield {"_op_type": "create", "_index": target, "_id": event.event_id, "_source": source}

    try:
        async for ok, item in async_streaming_bulk(
            client, actions(), chunk_size=BATCH, max_chunk_bytes=10_000_000, raise_on_error=True
        ):
            assert ok, item
    finally:
        await client.close()


async def measure(
    name: str, url: str, events: Sequence[Event], repeat: int, run: Callable[[str], Awaitable[None]]
) -> Measurement:
    measurement = Measurement(name, [], [], len(events))
    for attempt in range(repeat):
        slug = "".join(character if character.isalnum() else "_" for character in name.lower())
        target = f"logs-bench.{slug}-r{attempt}"
        cpu, wall = time.process_time(), time.perf_counter()
        await run(target)
        measurement.seconds.append(time.perf_counter() - wall)
        measurement.cpu.append(time.process_time() - cpu)
        stored = await count(url, target)
        assert stored == len(events), f"{name}: {stored} of {len(events)} events arrived"
    return measurement


async def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            if server.poll() is not None:
                raise RuntimeError("the fake exited")
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the fake did not start")


async def run_all(url: str, server: subprocess.Popen[bytes], events_count: int, repeat: int) -> None:
    await wait_until_up(url, server)
    events = make_events(events_count)
    size = sum(len(event.body) for event in events) / events_count
    runs: list[tuple[str, Callable[[str], Awaitable[None]]]] = [
        ("forwarder, gzip off, 1 in flight", lambda t: ours(url, events, t, gzip=False, concurrency=1)),
        ("forwarder, gzip on, 1 in flight", lambda t: ours(url, events, t, gzip=True, concurrency=1)),
        ("forwarder, gzip off, 4 in flight", lambda t: ours(url, events, t, gzip=False, concurrency=4)),
        ("forwarder, gzip on, 4 in flight", lambda t: ours(url, events, t, gzip=True, concurrency=4)),
        ("elasticsearch-py, gzip off", lambda t: baseline(url, events, t, gzip=False)),
        ("elasticsearch-py, gzip on", lambda t: baseline(url, events, t, gzip=True)),
    ]
    print(f"{events_count} events of {size:.0f} bytes, batches of {BATCH}, median of {repeat}")
    print("| client | events/s | seconds | client CPU µs/event |")
    print("|---|---:|---:|---:|")
    for name, run in runs:
        print((await measure(name, url, events, repeat, run)).row(), flush=True)


def main(events_count: int, repeat: int, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "fakes.elasticsearch", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        asyncio.run(run_all(url, server, events_count, repeat))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=19200)
    arguments = parser.parse_args()
    main(arguments.events, arguments.repeat, arguments.port)
