"""HEC event objects: the envelope Splunk indexes by, around the document already encoded as JSON.

The document bytes (``Event.body``) are spliced in as they are: they were encoded once for every
sink of this format, and decoding them only to encode them again would double the CPU per event.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from forwarder.records import LogType
from forwarder.sinks.base import Event
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Splunk reads events back to back with optional whitespace in between; a newline keeps a captured
# request readable one event per line.
SEPARATOR = b"\n"
# Parts of one event in HecEncoder._parts: the time, its envelope and the event around them.
_PARTS = 7


def epoch_seconds(moment: datetime) -> bytes:
    """Epoch seconds with six decimals, exact to the microsecond (a float would round some)."""
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    if seconds < 0 and delta.microseconds:
        # timedelta keeps microseconds positive; write e.g. -0.5 s as "-0.500000", not "-1.500000".
        return b"-%d.%06d" % (-(seconds + 1), 1_000_000 - delta.microseconds)
    return b"%d.%06d" % (seconds, delta.microseconds)


class HecEncoder:
    """Encodes events as HEC event objects. Holds only per-instance caches of envelope prefixes."""

    def __init__(self, settings: SplunkHecSettings) -> None:
        self._settings = settings
        # Everything in an envelope but the time depends only on (log type, account), so its
        # bytes are built once and reused for every event of that stream.
        self._metadata: dict[tuple[LogType, str], bytes] = {}

    def _metadata_for(self, log_type: LogType, account_id: str) -> bytes:
        key = (log_type, account_id)
        cached = self._metadata.get(key)
        if cached is not None:
            return cached
        settings = self._settings
        envelope: dict[str, object] = {
            "host": settings.host or socket.gethostname(),
            "source": settings.source or f"cloudflare:{account_id}:{log_type.value}",
            "sourcetype": settings.sourcetype_for(log_type),
        }
        index = settings.index_for(log_type)
        if index:
            envelope["index"] = index
        if settings.fields:
            envelope["fields"] = settings.fields
        # `{"host":...,"fields":{...}}` without its braces, to sit between time and event.
        encoded = orjson.dumps(envelope)[1:-1]
        self._metadata[key] = encoded
        return encoded

    def encode(self, event: Event) -> bytes:
        return self.encode_all((event,))[0]

    def encode_all(self, events: Sequence[Event]) -> list[bytes]:
        """Each event's HEC object, for the batches that need them one by one (cut to fit, or
        acknowledged): the parts :meth:`body` writes, joined per event."""
        parts = self._parts(events)
        return [b"".join(parts[start : start + _PARTS - 1]) + b"}" for start in range(0, len(parts), _PARTS)]

    def body(self, events: Sequence[Event]) -> bytes:
        """``join(self.encode_all(events))``, written by one join: no bytes object per event."""
        parts = self._parts(events)
        if parts:
            parts[-1] = b"}"  # the separator goes between events, not after the last
        return b"".join(parts)

    def _parts(self, events: Sequence[Event]) -> list[bytes]:
        """The events' HEC objects as one flat list, ``_PARTS`` per event, each ending in ``}\n``."""
        # One loop with local names, no call per event but the time's: this runs for every event.
        metadata = self._metadata
        parts: list[bytes] = []
        extend = parts.extend
        for event in events:
            record = event.record
            moment = record.timestamp
            key = (record.log_type, record.account_id)
            envelope = metadata.get(key)
            if envelope is None:
                envelope = self._metadata_for(*key)
            time = epoch_seconds(record.observed if moment is None else moment)
            extend((b'{"time":', time, b",", envelope, b',"event":', event.body, b"}\n"))
        return parts


def join(encoded: Sequence[bytes]) -> bytes:
    """One request body from event objects."""
    return SEPARATOR.join(encoded)
