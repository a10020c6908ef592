"""Main-thread CPU per request of the forwarder's own HTTP request paths, against a local server.

Run from the repository root (with PYTHONPATH=$PWD in another checkout; alternate checkouts for an A/B):

    .venv/bin/python -m benchmarks.http_overhead [--requests 200] [--repeat 7]

Three paths, each through the forwarder's own code and a keep-alive connection to a raw-socket server
in a thread of this process (its CPU is not counted: only this thread's ``time.thread_time``):

* ``cloudflare GET``: ``CloudflareClient.get`` of a page of 1,000 simulator access records (about
  700 KB), the envelope parsed (``orjson.loads``) and checked;
* ``_bulk POST``: the Elasticsearch sink's POST of 500 encoded events (about 400 KB) and the
  classification of the all-created answer (500 items);
* ``HEC POST``: the HEC sink's POST of the same 500 events' HEC body and its classification.

Best of --repeat runs of --requests requests each, in ms of CPU per request. The server's answers are
fixed bytes, so the numbers are the client side's cost alone: httpx, the request building, the
answer's reading and classification.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from pydantic import SecretStr

from benchmarks.e2e.scenarios import ACCOUNT, Dataset, simulator
from fakes.cloudflare.config import ACCESS_REQUESTS
from forwarder.formats import encoder_for
from forwarder.records import LogType, make_record
from forwarder.retry import Backoff
from forwarder.sinks.base import Event
from forwarder.sinks.elasticsearch.encoder import BulkEncoder
from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings
from forwarder.sinks.elasticsearch.sink import ElasticsearchSink
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.sinks.splunk_hec.sink import SplunkHecSink
from forwarder.source.client import CloudflareClient, Credentials
from forwarder.source.ratelimit import RateLimiter

BATCH = 500
PAGE = 1000


class Server:
    """Answers every request on a path with that path's fixed answer (HTTP/1.1, keep-alive)."""

    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            connection, _ = self._socket.accept()
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = connection.recv(1 << 20)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].split(b"?")[0]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                buffer += connection.recv(1 << 20)
            buffer = buffer[length:]
            connection.sendall(self.answers[path])


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


def best(
    runner: asyncio.Runner, run: Callable[[], Awaitable[object]], count: int, repeat: int
) -> tuple[float, list[float]]:
    """ms of this thread's CPU per call of ``run``, best of ``repeat`` runs of ``count`` calls."""

    async def timed() -> list[float]:
        for _ in range(5):
            await run()
        times = []
        for _ in range(repeat):
            gc.collect()
            started = time.thread_time()
            for _ in range(count):
                await run()
            times.append((time.thread_time() - started) / count * 1e3)
        return times

    times = runner.run(timed())
    return min(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()
    with simulator(Dataset.ending_now(PAGE)) as running:
        data = running.records(ACCOUNT, ACCESS_REQUESTS)[:PAGE]
    page = orjson.dumps(
        {
            "result": data,
            "result_info": {"count": len(data), "cursor": "next-cursor"},
            "success": True,
            "errors": [],
            "messages": [],
        }
    )
    observed = datetime.now(UTC)
    encode = encoder_for("ecs")
    events = [
        Event(record, encode(record))
        for record in (make_record(LogType.ACCESS_REQUESTS, ACCOUNT, item, observed) for item in data)
    ][:BATCH]
    items = b",".join([b'{"create":{"status":201}}'] * BATCH)
    server = Server(
        {
            b"/client/v4/accounts/x/access/logs/access_requests": answer(
                page, b"ratelimit: r=1190;t=280\r\nset-cookie: __cf_bm=abc; path=/; HttpOnly\r\n"
            ),
            b"/_bulk": answer(b'{"errors":false,"items":[' + items + b"]}"),
            b"/services/collector/event": answer(b'{"text":"Success","code":0}'),
        }
    )
    url = f"http://127.0.0.1:{server.port}"

    cloudflare = CloudflareClient(
        f"{url}/client/v4",
        Credentials(token=SecretStr("benchmark")),
        limiter=RateLimiter(1_000_000, 1.0),
        backoff=Backoff(),
    )
    params = [("limit", PAGE), ("since", "2026-01-01T00:00:00Z"), ("until", "2026-01-01T01:00:00Z")]

    async def get() -> object:
        return await cloudflare.get(
            "/accounts/x/access/logs/access_requests", params, operation="read", account_id="x"
        )

    bulk_sink = ElasticsearchSink(
        ElasticsearchSettings(url=url, bootstrap_template=False, gzip=False)  # type: ignore[arg-type]
    )
    encoded = BulkEncoder({LogType.ACCESS_REQUESTS: "logs-cf-default"}, "create", True).encode(events)

    async def bulk() -> object:
        return await bulk_sink._post(await bulk_sink._connection(), encoded)

    hec_sink = SplunkHecSink(
        SplunkHecSettings(url=url, token="benchmark", gzip=False)  # type: ignore[arg-type]
    )
    hec_body = hec_sink._encoder.body(events)

    async def hec() -> object:
        return await hec_sink._post_body(await hec_sink._opened(), hec_body)

    print(
        f"page {len(page):,} bytes, _bulk body {len(encoded.body()):,} bytes, HEC body {len(hec_body):,} "
        f"bytes; best of {arguments.repeat} x {arguments.requests} requests, ms of CPU per request"
    )
    # One loop for all: the clients' connections belong to the loop that opened them.
    with asyncio.Runner() as runner:
        for name, run in (("cloudflare GET", get), ("_bulk POST", bulk), ("HEC POST", hec)):
            fastest, times = best(runner, run, arguments.requests, arguments.repeat)
            print(f"{name:16s} {fastest:6.3f}   ({', '.join(f'{value:.3f}' for value in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
