"""Sending frames: UDP datagrams, or a TCP / TLS stream kept open between batches.

Syslog has no acknowledgement. A message counts as delivered once it is written to the socket:
for TCP, when every byte of the batch has left our process's buffers (the write buffer limit is
zero, so ``drain`` returns only then); for TLS, when the TLS layer has encrypted it and handed it
to the TCP transport; for UDP, when ``send`` returned. Nothing here retries or
waits between attempts: a failure closes the connection, is raised, and the next ``send`` (the
pipeline's retry, after its backoff) connects again.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field


class SendFailed(Exception):
    """The network failed after ``sent`` frames of the batch had been handed to the kernel."""

    def __init__(self, error: BaseException, sent: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent


class FrameTooLarge(Exception):
    """The kernel will never send this datagram (EMSGSIZE): the message must be rejected."""


@dataclass(slots=True)
class UdpSender:
    """A connected UDP socket: the kernel then reports ICMP "port unreachable" on a later send."""

    host: str
    port: int
    timeout: float
    _socket: socket.socket | None = field(default=None, init=False)

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        udp = socket.socket(family, kind, proto)
        udp.setblocking(False)
        try:
            await loop.sock_connect(udp, address)
        except BaseException:
            udp.close()
            raise
        self._socket = udp

    async def send(self, datagram: bytes) -> None:
        """One datagram; FrameTooLarge if no network can carry it, OSError on a network failure."""
        if self._socket is None:
            async with asyncio.timeout(self.timeout):
                await self.connect()
        assert self._socket is not None
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.get_running_loop().sock_sendall(self._socket, datagram)
        except OSError as error:
            if error.errno == errno.EMSGSIZE:
                raise FrameTooLarge(str(error)) from error
            self.close()
            raise

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


@dataclass(slots=True)
class StreamSender:
    """One TCP or TLS connection, opened on first use and again after any failure."""

    host: str
    port: int
    timeout: float
    ssl_context: ssl.SSLContext | None = None
    server_name: str | None = None
    _reader: asyncio.StreamReader | None = field(default=None, init=False)
    _writer: asyncio.StreamWriter | None = field(default=None, init=False)
    # Why the receiver closed the last connection, if it said (a TLS alert).
    closed_because: BaseException | None = field(default=None, init=False)

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.ssl_context,
                server_hostname=self.server_name if self.ssl_context is not None else None,
            )
        # With no high-water mark, drain() returns only once every byte has left our buffers, which
        # is what "written to the socket" means for the delivery count. The TLS layer pauses at
        # size >= high (the TCP transport at size > high), so 0 there would pause for ever.
        # Over TLS the encrypted bytes may still wait in the TCP transport's own buffer (at most its
        # 64 KiB high-water mark) when drain() returns; close() flushes them.
        writer.transport.set_write_buffer_limits(high=1 if self.ssl_context is not None else 0, low=0)
        self._reader, self._writer = reader, writer

    def peer_closed(self) -> bool:
        """Whether the receiver closed or reset the connection since the last send.

        A receiver never sends data, so anything on the read side (end of stream, an error, a TLS
        alert) means it has gone; writing into such a socket would "succeed" into nothing.
        """
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            return False
        if writer.is_closing() or reader.at_eof():
            self.closed_because = reader.exception()
            return True
        return False

    async def listen(self, seconds: float) -> tuple[bool, BaseException | None]:
        """Read for up to ``seconds``: (whether the receiver closed the connection, the error it gave)."""
        reader = self._reader
        assert reader is not None
        try:
            async with asyncio.timeout(seconds):
                data = await reader.read(1)
        except TimeoutError:
            return False, None
        except (OSError, ssl.SSLError) as error:
            return True, error
        # A receiver has nothing to say; any byte is as good as a hang-up for our purpose.
        return (not data), None

    async def send(self, frames: Sequence[bytes]) -> None:
        """Every frame of a batch, in one write; raises SendFailed (sent=0) on any failure."""
        if self._writer is not None:
            # Not a wait: two turns of the loop let it poll the socket and then run the callbacks
            # for an end of stream, reset or TLS alert that already arrived, so that a hang-up is
            # seen here rather than after the batch was written into a dead connection.
            for _turn in range(2):
                await asyncio.sleep(0)
        if self.peer_closed():
            await self.aclose()
        try:
            if self._writer is None:
                await self.connect()
            writer = self._writer
            assert writer is not None
            writer.write(b"".join(frames))
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except (OSError, TimeoutError, EOFError, ssl.SSLError) as error:
            await self.aclose()
            # Over a stream we cannot tell how much of the batch reached the kernel before the
            # failure, so the whole batch is sent again: at-least-once, never at-most-once.
            raise SendFailed(error, sent=0) from error

    async def aclose(self) -> None:
        writer = self._writer
        self._reader = self._writer = None
        if writer is None:
            return
        writer.close()
        try:
            async with asyncio.timeout(self.timeout):
                await writer.wait_closed()
        except (OSError, TimeoutError, ssl.SSLError):
            # Closing a connection that already failed may fail again; there is nothing to keep.
            pass
