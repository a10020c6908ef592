"""Splunk HEC sink throughput into the fake HEC, compared in the same run with a naive baseline.

Run from the repository root (results and the command are written down in SPLUNK_HEC_RESULTS.md):

    .venv/bin/python -m benchmarks.splunk_hec_bench [--events 50000] [--batch 500] [--repeat 3]

Variants, each over plain HTTP and over TLS (a throwaway trustme CA):

* ``sink``: ``SplunkHecSink.send`` with batches of ``--batch`` events, ``--concurrency`` sends in
  flight (as the pipeline would run it): envelope spliced around the pre-encoded document bytes,
  one pooled keep-alive client.
* ``naive``: what a first attempt looks like: each event's envelope built as a dict and encoded
  with ``json.dumps`` (document included), then one ``httpx.post`` per batch (a new client, so a
  new TLS context with the CA file loaded again, a new connection, and over TLS a new handshake,
  every time), one batch after another.
* ``sink + acks``: the sink with indexer acknowledgement, the fake acknowledging at the first query.
* ``ceiling``: one pre-built request body posted again and again through a pooled client: how
  fast the fake itself takes events, so that numbers near it mean the fake is the limit.

The fake runs in a child process so that its parsing does not share the client's CPU. Every run
checks that the fake counted every event before its number is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import platform
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import trustme

from fakes.splunk_hec import FakeHec, HecToken
from forwarder.sinks.base import Event
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink
from forwarder.sinks.splunk_hec.encoder import HecEncoder, join
from tests.support.splunk_hec_support import TOKEN, make_events

GZIP_LEVEL = 6
# HEC needs a channel on every request of a token with acknowledgement on: one token per mode.
ACK_TOKEN = "acacacac-0000-4000-8000-000000000000"


# --- the fake, in a child process -------------------------------------------------------------


def _serve(connection: Connection, cert_file: str | None, key_file: str | None) -> None:
    async def serve() -> None:
        context = None
        if cert_file and key_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file, key_file)
        fake = FakeHec([HecToken(TOKEN), HecToken(ACK_TOKEN, use_ack=True)], keep=False)
        async with fake.serve(context):
            connection.send(fake.url)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, connection.recv)
                if command == "stop":
                    return
                connection.send((fake.indexed_count, fake.request_count))

    asyncio.run(serve())


@dataclass
class Server:
    url: str
    connection: Connection
    process: multiprocessing.process.BaseProcess

    def counts(self) -> tuple[int, int]:
        self.connection.send("counts")
        indexed, requests = self.connection.recv()
        return int(indexed), int(requests)

    def stop(self) -> None:
        self.connection.send("stop")
        self.process.join(timeout=10)


def start_server(cert_file: str | None = None, key_file: str | None = None) -> Server:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, cert_file, key_file), daemon=True)
    process.start()
    return Server(parent.recv(), parent, process)


# --- the ways to send -------------------------------------------------------------------------


def settings_for(
    url: str, use_gzip: bool, ca_file: str | None, concurrency: int, *, acks: bool
) -> SplunkHecSettings:
    return SplunkHecSettings(
        url=url,
        token=ACK_TOKEN if acks else TOKEN,
        gzip=use_gzip,
        gzip_level=GZIP_LEVEL,
        concurrency=concurrency,
        tls_ca_file=Path(ca_file) if ca_file else None,
        acknowledgements=acks,
        ack_poll_interval=0.02,
        host="bench",
    )


async def run_sink(
    batches: Sequence[Sequence[Event]], settings: SplunkHecSettings, concurrency: int
) -> float:
    sink = SplunkHecSink(settings)
    await sink.open()
    slots = asyncio.Semaphore(concurrency)

    async def send(batch: Sequence[Event]) -> None:
        async with slots:
            result = await sink.send(batch)
            assert not result.retry
            assert not result.rejected

    started = time.perf_counter()
    await asyncio.gather(*(send(batch) for batch in batches))
    elapsed = time.perf_counter() - started
    await sink.close()
    return elapsed


# The naive client's input: documents as dicts (events keep only the encoded bytes); decoded once,
# outside any timing, by main().
DOCUMENTS: dict[str, Any] = {}


def naive_body(batch: Sequence[Event]) -> bytes:
    lines = []
    for event in batch:
        envelope: dict[str, Any] = {
            "time": event.record.time.timestamp(),
            "host": "bench",
            "source": f"cloudflare:{event.record.account_id}:{event.log_type.value}",
            "sourcetype": "cloudflare:access",
            "event": DOCUMENTS[event.event_id],
        }
        lines.append(json.dumps(envelope))
    return "\n".join(lines).encode()


def run_naive(batches: Sequence[Sequence[Event]], url: str, use_gzip: bool, ca_file: str | None) -> float:
    started = time.perf_counter()
    for batch in batches:
        # What `httpx.post` does by itself for the system store: a TLS context per call.
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        body = naive_body(batch)
        headers = {"Authorization": f"Splunk {TOKEN}", "Content-Type": "application/json"}
        if use_gzip:
            body = gzip.compress(body, GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        response = httpx.post(f"{url}/services/collector/event", content=body, headers=headers, verify=verify)
        assert response.status_code == 200, response.text
    return time.perf_counter() - started


async def run_ceiling(body: bytes, requests: int, url: str, ca_file: str | None, concurrency: int) -> float:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    headers = {"Authorization": f"Splunk {TOKEN}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(verify=verify, limits=limits, trust_env=False) as client:
        slots = asyncio.Semaphore(concurrency)

        async def post() -> None:
            async with slots:
                response = await client.post(f"{url}/services/collector/event", content=body, headers=headers)
                assert response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(requests)))
        return time.perf_counter() - started


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Row:
    transport: str
    variant: str
    gzip: bool
    events_per_second: float
    runs: list[float]


def measure(server: Server, events: int, repeat: int, run: Callable[[], float]) -> list[float]:
    rates = []
    for _ in range(repeat):
        before, _ = server.counts()
        elapsed = run()
        after, _ = server.counts()
        # A number for events that did not arrive would be a lie.
        assert after - before == events, f"the fake indexed {after - before} of {events} events"
        rates.append(events / elapsed)
    return rates


def encoder_rates(batch: Sequence[Event], repeat: int) -> tuple[float, float]:
    encoder = HecEncoder(settings_for("http://127.0.0.1:1", True, None, 1, acks=False))
    rounds = 200
    spliced, dumped = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(rounds):
            join(encoder.encode_all(batch))
        spliced.append(rounds * len(batch) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(rounds):
            naive_body(batch)
        dumped.append(rounds * len(batch) / (time.perf_counter() - started))
    return statistics.median(spliced), statistics.median(dumped)


def bench_transport(
    transport: str,
    server: Server,
    ca_path: str | None,
    batches: list[list[Event]],
    arguments: argparse.Namespace,
) -> list[Row]:
    rows: list[Row] = []

    def add(variant: str, use_gzip: bool, run: Callable[[], float]) -> None:
        runs = measure(server, arguments.events, arguments.repeat, run)
        rows.append(Row(transport, variant, use_gzip, statistics.median(runs), runs))

    def sink_run(settings: SplunkHecSettings) -> float:
        return asyncio.run(run_sink(batches, settings, arguments.concurrency))

    for use_gzip in (True, False):
        settings = settings_for(server.url, use_gzip, ca_path, arguments.concurrency, acks=False)
        add("sink", use_gzip, partial(sink_run, settings))
        add("naive", use_gzip, partial(run_naive, batches, server.url, use_gzip, ca_path))
    acked = settings_for(server.url, True, ca_path, arguments.concurrency, acks=True)
    add("sink + acks (poll 20 ms)", True, partial(sink_run, acked))
    body = join(HecEncoder(acked).encode_all(batches[0]))

    def ceiling_run() -> float:
        return asyncio.run(run_ceiling(body, len(batches), server.url, ca_path, arguments.concurrency))

    add("ceiling (fake's own limit)", False, ceiling_run)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()

    events = make_events(arguments.events)
    DOCUMENTS.update((event.event_id, event.document) for event in events)
    batches = [events[start : start + arguments.batch] for start in range(0, len(events), arguments.batch)]
    encoder = HecEncoder(settings_for("http://127.0.0.1:1", True, None, 1, acks=False))
    body = join(encoder.encode_all(batches[0]))
    compressed = len(gzip.compress(body, GZIP_LEVEL))
    print(f"python {platform.python_version()} on {platform.machine()}, {multiprocessing.cpu_count()} CPUs")
    print(
        f"{arguments.events} events, batches of {arguments.batch}, sink concurrency {arguments.concurrency}"
    )
    print(f"one request body: {len(body)} bytes, {compressed} with gzip level {GZIP_LEVEL}")
    spliced, dumped = encoder_rates(batches[0], arguments.repeat)
    print(
        f"encoding only: envelope spliced around the body {spliced:,.0f} events/s, json.dumps {dumped:,.0f}"
    )

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        ca = trustme.CA()
        ca_file = f"{scratch}/ca.pem"
        cert_file = f"{scratch}/server.pem"
        key_file = f"{scratch}/server.key"
        ca.cert_pem.write_to_path(ca_file)
        issued = ca.issue_cert("127.0.0.1")
        issued.cert_chain_pems[0].write_to_path(cert_file)
        issued.private_key_pem.write_to_path(key_file)
        for transport, server, ca_path in (
            ("http", start_server(), None),
            ("https", start_server(cert_file, key_file), ca_file),
        ):
            try:
                rows.extend(bench_transport(transport, server, ca_path, batches, arguments))
            finally:
                server.stop()

    print(f"\nmedian of {arguments.repeat} runs\n")
    print("| transport | variant | gzip | events/s (median) | runs |")
    print("| --- | --- | --- | ---: | --- |")
    for row in rows:
        runs = ", ".join(f"{rate:,.0f}" for rate in row.runs)
        gzip_text = "on" if row.gzip else "off"
        print(f"| {row.transport} | {row.variant} | {gzip_text} | {row.events_per_second:,.0f} | {runs} |")


if __name__ == "__main__":
    main()
