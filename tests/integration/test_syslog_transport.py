"""Network failures: refused connections, receivers that hang up, reconnecting on the next send.

These use small asyncio servers on 127.0.0.1 rather than rsyslog/syslog-ng, because the test
needs to close and restart the receiver at exact points.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest

from forwarder.formats import to_raw
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event, RetryableError
from forwarder.sinks.syslog import SyslogSettings, SyslogSink
from forwarder.sinks.syslog.transport import StreamSender
from tests.receivers.common import free_port

pytestmark = pytest.mark.integration


def event(index: int) -> Event:
    data = {"ray_id": f"{index:016x}", "allowed": True, "created_at": "2024-01-01T00:00:00Z"}
    record = make_record(LogType.ACCESS_REQUESTS, "acc", data, observed=datetime.now(UTC))
    document = to_raw(record)
    return Event(record=record, body=orjson.dumps(document))


class OctetCountingServer:
    """Reads RFC 6587 octet-counted frames; ``hang_up`` closes every open connection."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.arrived = asyncio.Condition()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                length = await reader.readuntil(b" ")
                message = await reader.readexactly(int(length))
                async with self.arrived:
                    self.messages.append(message)
                    self.arrived.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def hang_up(self) -> None:
        for writer in self.writers:
            writer.close()
            await writer.wait_closed()
        self.writers.clear()

    async def stop(self) -> None:
        await self.hang_up()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10), self.arrived:
            await self.arrived.wait_for(lambda: len(self.messages) >= count)


@pytest.fixture
async def server() -> AsyncIterator[OctetCountingServer]:
    running = OctetCountingServer()
    await running.start()
    yield running
    await running.stop()


async def test_refused_connection_is_retryable_and_names_the_receiver() -> None:
    port = free_port(socket.SOCK_STREAM)
    sink = SyslogSink(SyslogSettings(host="127.0.0.1", port=port))
    with pytest.raises(RetryableError, match=f"tcp://127.0.0.1:{port}"):
        await sink.send([event(1)])
    await sink.close()


async def test_next_send_after_a_failure_connects_again() -> None:
    port = free_port(socket.SOCK_STREAM)
    sink = SyslogSink(SyslogSettings(host="127.0.0.1", port=port))
    with pytest.raises(RetryableError):
        await sink.send([event(1)])
    receiver = OctetCountingServer()
    await receiver.start(port)
    try:
        assert (await sink.send([event(1), event(2)])).retry == []
        await receiver.wait_for(2)
    finally:
        await sink.close()
        await receiver.stop()


async def test_a_receiver_that_hung_up_is_noticed_before_the_next_write(server: OctetCountingServer) -> None:
    sender = StreamSender("127.0.0.1", server.port, timeout=5)
    await sender.send([b"5 first"])
    await server.wait_for(1)
    await server.hang_up()
    async with asyncio.timeout(10):
        while not sender.peer_closed():
            await asyncio.sleep(0.01)
    await sender.send([b"6 second"])
    await server.wait_for(2)
    assert server.messages == [b"first", b"second"]
    assert server.connections == 2
    await sender.aclose()


async def test_sink_reconnects_after_the_receiver_hung_up(server: OctetCountingServer) -> None:
    sink = SyslogSink(SyslogSettings(host="127.0.0.1", port=server.port))
    await sink.send([event(1)])
    await server.wait_for(1)
    await server.hang_up()
    # The hang-up is already in our kernel: the sink must see it and not write into the dead socket.
    assert (await sink.send([event(2)])).retry == []
    await server.wait_for(2)
    assert server.connections == 2
    await sink.close()


async def test_udp_to_a_closed_port_asks_for_a_retry_once_the_kernel_reports_it() -> None:
    port = free_port(socket.SOCK_DGRAM)
    sink = SyslogSink(SyslogSettings(host="127.0.0.1", port=port, transport="udp"))
    results = [await sink.send([event(index), event(index + 100)]) for index in range(3)]
    await sink.close()
    # Linux reports ICMP port unreachable on the send after the one that caused it.
    retried = [result for result in results if result.retry]
    assert retried, "a refused UDP datagram must not count as delivered forever"
    assert "udp://127.0.0.1" in retried[0].retry_reason


async def test_concurrent_sends_share_one_connection(server: OctetCountingServer) -> None:
    sink = SyslogSink(SyslogSettings(host="127.0.0.1", port=server.port))
    batches = [[event(index * 10 + offset) for offset in range(10)] for index in range(8)]
    results = await asyncio.gather(*(sink.send(batch) for batch in batches))
    assert all(result.retry == [] for result in results)
    await server.wait_for(80)
    assert server.connections == 1
    await sink.close()
