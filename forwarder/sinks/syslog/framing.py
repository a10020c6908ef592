"""Bytes for the wire: octet counting and LF framing on streams, size limits on datagrams."""

from __future__ import annotations

from forwarder.sinks.syslog.message import NILVALUE, SyslogMessage
from forwarder.sinks.syslog.settings import Framing

TRUNCATION_MARKER = b"[truncated]"


def frame(message: bytes, framing: Framing) -> bytes:
    """One message as it goes on a TCP or TLS stream.

    Octet counting (RFC 6587 3.4.1, RFC 5425 4.3) is ``MSG-LEN SP SYSLOG-MSG`` and carries any
    byte. LF framing ends a message at the first line feed, so one inside the message (possible
    in structured data values or LEEF/JSON payloads from odd input) becomes a space instead of
    splitting the event in two.
    """
    if framing == "octet-counting":
        return b"%d %s" % (len(message), message)
    return message.replace(b"\n", b" ") + b"\n"


def cut_utf8(data: bytes, limit: int) -> bytes:
    """At most ``limit`` bytes of ``data`` without splitting a UTF-8 character."""
    if len(data) <= limit:
        return data
    end = limit
    # Continuation bytes are 10xxxxxx; back up to the start of the character that does not fit.
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end]


def fit_datagram(message: SyslogMessage, limit: int) -> tuple[bytes, bool] | None:
    """The message within ``limit`` bytes, and whether it had to be cut; None if it cannot fit.

    The body is cut first and ends with ``[truncated]``; if even the head and the structured data
    leave no room for that, the structured data goes too (becoming NILVALUE). A message whose head
    alone is too long cannot be sent: the caller rejects it.
    """
    whole = message.encode()
    if len(whole) <= limit:
        return whole, False
    candidates = [message.structured_data]
    if message.structured_data not in (b"", NILVALUE.encode()):
        candidates.append(NILVALUE.encode())
    for structured_data in candidates:
        prefix = message.head + structured_data + b" "
        room = limit - len(prefix) - len(TRUNCATION_MARKER)
        if room >= 0:
            return prefix + cut_utf8(message.body, room) + TRUNCATION_MARKER, True
    return None
