"""Syslog sink throughput over TCP and TLS into a real local rsyslog, next to Python's SysLogHandler.

    PYTHONPATH=. .venv/bin/python benchmarks/syslog_bench.py [--events 20000] [--batch 500]

Each run sends the same RFC 5424 messages (the same access records, formatted by the sink) to a
fresh rsyslogd on 127.0.0.1 (started as in the integration tests; needs
scripts/install-syslog-receivers.sh). "send" is the time until the sender handed the last byte to
the kernel, "received" until rsyslog wrote the last message to its file; every run checks that all
events arrived. SysLogHandler has no TLS and no octet counting, so it sends LF-framed lines, over
TLS through a subclass that wraps its socket; it writes one message per system call.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import platform
import socket
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from forwarder.formats import to_raw
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.syslog import SyslogSettings, SyslogSink
from tests.receivers.common import Receiver
from tests.receivers.rsyslog import start_rsyslog


def make_events(count: int) -> list[Event]:
    events = []
    for index in range(count):
        data = {
            "user_email": f"user{index % 97}@example.com",
            "ip_address": f"198.51.100.{index % 250}",
            "app_uid": "6b1b3c5e-8f7a-4a39-9f4e-0c3d2b1a0f9e",
            "app_domain": "app.example.com/admin",
            "action": "login",
            "connection": "okta",
            "allowed": index % 10 != 0,
            "created_at": "2024-06-07T08:09:10.123456Z",
            "ray_id": f"{index:016x}",
        }
        record = make_record(
            LogType.ACCESS_REQUESTS, "0123456789abcdef0123456789abcdef", data, datetime.now(UTC)
        )
        document = to_raw(record)
        events.append(Event(record=record, body=orjson.dumps(document)))
    return events


def lines_now(receiver: Receiver) -> int:
    return receiver.output.read_bytes().count(b"\n")


def run_sink(receiver: Receiver, events: list[Event], batch: int, **settings: object) -> tuple[float, float]:
    sink = SyslogSink(SyslogSettings.model_validate({"host": "127.0.0.1", "hostname": "bench", **settings}))
    before = lines_now(receiver)

    async def send_all() -> None:
        for start in range(0, len(events), batch):
            result = await sink.send(events[start : start + batch])
            assert not result.retry
            assert not result.rejected
        await sink.close()

    started = time.monotonic()
    asyncio.run(send_all())
    sent = time.monotonic()
    received = wait_until(receiver, before + len(events))
    return sent - started, received - started


def wait_until(receiver: Receiver, total_lines: int, deadline: float = 120.0) -> float:
    give_up = time.monotonic() + deadline
    while lines_now(receiver) < total_lines:
        if time.monotonic() > give_up:
            raise AssertionError(f"{receiver.name}: {lines_now(receiver)} of {total_lines} lines arrived")
        time.sleep(0.005)
    return time.monotonic()


class TlsSysLogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler's TCP socket wrapped in TLS: the standard library offers no TLS syslog."""

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address=address, socktype=socket.SOCK_STREAM)

    def createSocket(self) -> None:
        super().createSocket()
        plain: socket.socket = getattr(self, "socket")  # noqa: B009 - typeshed leaves it untyped
        self.socket = self.context.wrap_socket(plain, server_hostname="localhost")


def run_handler(
    receiver: Receiver, lines: list[str], make: Callable[[], logging.Handler]
) -> tuple[float, float]:
    handler = make()
    assert isinstance(handler, logging.handlers.SysLogHandler)
    handler.append_nul = False
    # The message after "<PRI>" is what the sink formats; SysLogHandler adds the PRI itself.
    handler.setFormatter(logging.Formatter("%(message)s\n"))
    logger = logging.Logger(f"bench-{uuid.uuid4().hex}", level=logging.INFO)
    logger.addHandler(handler)
    before = lines_now(receiver)
    started = time.monotonic()
    for line in lines:
        logger.info(line)
    sent = time.monotonic()
    handler.close()
    received = wait_until(receiver, before + len(lines))
    return sent - started, received - started


Run = tuple[str, Callable[[], tuple[float, float]]]


def contenders(receiver: Receiver, events: list[Event], lines: list[str], batch: int) -> list[Run]:
    """Our sink and the standard library's SysLogHandler, over each transport rsyslog listens on."""
    certificates = receiver.certificates
    tls = {"tls_ca_file": str(certificates.ca), "tls_server_name": "localhost"}
    context = ssl.create_default_context(cafile=str(certificates.ca))
    ports = receiver.ports
    return [
        (
            "sink tcp octet-counting",
            lambda: run_sink(receiver, events, batch, transport="tcp", port=ports["tcp"]),
        ),
        (
            "sink tcp lf",
            lambda: run_sink(receiver, events, batch, transport="tcp", framing="lf", port=ports["tcp_lf"]),
        ),
        (
            "SysLogHandler tcp lf",
            lambda: run_handler(
                receiver,
                lines,
                lambda: logging.handlers.SysLogHandler(
                    ("127.0.0.1", ports["tcp_lf"]), socktype=socket.SOCK_STREAM
                ),
            ),
        ),
        (
            "sink tls octet-counting",
            lambda: run_sink(receiver, events, batch, transport="tls", port=ports["tls"], **tls),
        ),
        (
            "SysLogHandler tls lf (subclass)",
            lambda: run_handler(
                receiver, lines, lambda: TlsSysLogHandler(("127.0.0.1", ports["tls"]), context)
            ),
        ),
    ]


def report(runs: list[Run], count: int, repeat: int) -> None:
    """The median of ``repeat`` runs of each, after one warm-up run of each."""
    print(f"# median of {repeat} runs after one warm-up run of each")
    print(f"{'run':34} {'send s':>8} {'events/s (send)':>16} {'recv s':>8} {'events/s (recv)':>16}")
    for _name, run in runs:
        run()
    for name, run in runs:
        timings = sorted(run() for _ in range(repeat))
        sent, received = timings[len(timings) // 2]
        print(f"{name:34} {sent:8.3f} {count / sent:16,.0f} {received:8.3f} {count / received:16,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown")
    arguments = parser.parse_args()
    events = make_events(arguments.events)
    with tempfile.TemporaryDirectory() as folder:
        receiver = start_rsyslog(Path(folder))
        try:
            formatter = SyslogSink(SyslogSettings(host="127.0.0.1", hostname="bench"))
            # Everything after "<PRI>": SysLogHandler writes its own PRI in front.
            lines = [formatter.message(event).encode().decode().split(">", 1)[1] for event in events]
            runs = contenders(receiver, events, lines, arguments.batch)
            print(f"# {arguments.events} access events, batch {arguments.batch}, into rsyslog on 127.0.0.1")
            print(f"# Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
            started = time.perf_counter()
            for event in events:
                formatter.message(event).encode()
            encoding = time.perf_counter() - started
            print(
                f"# sink encoding alone (RFC 5424 + SD + JSON body): {len(events) / encoding:,.0f} events/s"
            )
            report(runs, arguments.events, arguments.repeat)
        finally:
            receiver.stop()


if __name__ == "__main__":
    main()
