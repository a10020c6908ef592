"""The Python peers, each run as a process of its own: `python -m benchmarks.e2e.peers <peer> ...`.

They read the NDJSON the forwarder's file sink wrote for the same records (documents already
mapped to ECS or OCSF), and send it in batches of the same size to the same receivers:

* ``espy``: elasticsearch-py ``helpers.streaming_bulk`` (synchronous), ``create`` with the event id
  as ``_id``, into the same data stream as the forwarder; ``espy-async``: ``async_streaming_bulk``.
* ``plain-hec`` / ``plain-bulk``: what a first attempt looks like: ``json.loads`` each line, build
  the HEC envelope (event time included) or the `_bulk` action line, ``json.dumps``, one
  ``httpx.Client.post`` per batch, one batch after another.
* ``ceiling``: ``orjson.loads`` + ``orjson.dumps`` of every raw Cloudflare record; no mapping, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BULK_TARGET = "logs-cloudflare.access_requests-default"
SOURCETYPE = "cloudflare:access"


def documents(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            yield json.loads(line)


def event_id(document: dict[str, Any], fmt: str) -> str:
    return str(document["event"]["id"] if fmt == "ecs" else document["metadata"]["uid"])


def event_time(document: dict[str, Any], fmt: str) -> float:
    if fmt == "ocsf":
        return float(document["time"]) / 1000
    return datetime.fromisoformat(document["@timestamp"]).timestamp()


def bulk_source(document: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Data streams refuse a document without ``@timestamp``: OCSF has none, so it gets one (as ours does)."""
    if fmt == "ocsf":
        moment = datetime.fromtimestamp(document["time"] / 1000, UTC).isoformat().replace("+00:00", "Z")
        return {"@timestamp": moment, **document}
    return document


def batches(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for document in documents(path):
        batch.append(document)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def espy(url: str, path: Path, fmt: str, batch: int) -> int:
    from elasticsearch import Elasticsearch
    from elasticsearch.helpers import streaming_bulk

    client = Elasticsearch(url, http_compress=False, request_timeout=60)
    actions = (
        {
            "_op_type": "create",
            "_index": BULK_TARGET,
            "_id": event_id(doc, fmt),
            "_source": bulk_source(doc, fmt),
        }
        for doc in documents(path)
    )
    sent = 0
    for ok, item in streaming_bulk(client, actions, chunk_size=batch, max_chunk_bytes=10_000_000):
        assert ok, item
        sent += 1
    client.close()
    return sent


def espy_async(url: str, path: Path, fmt: str, batch: int) -> int:
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.helpers import async_streaming_bulk

    async def run() -> int:
        client = AsyncElasticsearch(url, http_compress=False, request_timeout=60)

        async def actions() -> AsyncIterator[dict[str, Any]]:
            for doc in documents(path):
                yield {
                    "_op_type": "create",
                    "_index": BULK_TARGET,
                    "_id": event_id(doc, fmt),
                    "_source": bulk_source(doc, fmt),
                }

        sent = 0
        try:
            async for ok, item in async_streaming_bulk(
                client, actions(), chunk_size=batch, max_chunk_bytes=10_000_000
            ):
                assert ok, item
                sent += 1
        finally:
            await client.close()
        return sent

    return asyncio.run(run())


def plain_hec(url: str, path: Path, fmt: str, batch: int, token: str) -> int:
    import httpx

    sent = 0
    headers = {"Authorization": f"Splunk {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for docs in batches(path, batch):
            body = "\n".join(
                json.dumps(
                    {
                        "time": event_time(doc, fmt),
                        "host": "bench",
                        "source": "cloudflare",
                        "sourcetype": SOURCETYPE,
                        "event": doc,
                    }
                )
                for doc in docs
            )
            response = client.post("/services/collector/event", content=body.encode())
            assert response.status_code == 200, response.text
            sent += len(docs)
    return sent


def plain_bulk(url: str, path: Path, fmt: str, batch: int) -> int:
    import httpx

    sent = 0
    with httpx.Client(base_url=url, headers={"Content-Type": "application/x-ndjson"}, timeout=60) as client:
        for docs in batches(path, batch):
            lines = []
            for doc in docs:
                lines.append(json.dumps({"create": {"_index": BULK_TARGET, "_id": event_id(doc, fmt)}}))
                lines.append(json.dumps(bulk_source(doc, fmt)))
            response = client.post("/_bulk", content=("\n".join(lines) + "\n").encode())
            answer = response.json()
            assert response.status_code == 200, response.text[:500]
            assert not answer["errors"], response.text[:500]
            sent += len(docs)
    return sent


def ceiling(path: Path) -> int:
    import orjson

    count = 0
    with path.open("rb") as lines:
        for line in lines:
            orjson.dumps(orjson.loads(line))
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("peer", choices=["espy", "espy-async", "plain-hec", "plain-bulk", "ceiling"])
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--format", default="ecs", choices=["ecs", "ocsf"])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--token", default="")
    arguments = parser.parse_args()
    url, path, fmt, batch = arguments.url, arguments.input, arguments.format, arguments.batch
    if arguments.peer == "espy":
        sent = espy(url, path, fmt, batch)
    elif arguments.peer == "espy-async":
        sent = espy_async(url, path, fmt, batch)
    elif arguments.peer == "plain-hec":
        sent = plain_hec(url, path, fmt, batch, arguments.token)
    elif arguments.peer == "plain-bulk":
        sent = plain_bulk(url, path, fmt, batch)
    else:
        sent = ceiling(path)
    print(f"{arguments.peer}: {sent} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
