"""Bytes for the wire: a batch of events as a `_bulk` NDJSON body.

Each event becomes an action line and a source line. The source line is ``Event.body`` as the
pipeline encoded it, copied, never decoded and encoded again: that is most of the work saved per
event. The action line is built from a prefix computed once per target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import orjson

from forwarder.records import LogType
from forwarder.sinks._http.request_size import cut_to_fit
from forwarder.sinks.base import Event, Rejection

Action = Literal["create", "index"]

# Elasticsearch refuses a whole `_bulk` request (not just the item) if any `_id` is longer.
MAX_ID_BYTES = 512


@dataclass(slots=True)
class EncodedBatch:
    """The events that go on the wire, in the order of their actions, and those refused before.

    ``events[i]`` is sent as ``chunks[i]`` (its action line and source line, each ending in "\n"):
    two lists rather than an object per event, which cost more than the rest of the encoding.
    """

    events: list[Event] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def halves(self) -> tuple[EncodedBatch, EncodedBatch]:
        middle = len(self.events) // 2
        return (
            EncodedBatch(self.events[:middle], self.chunks[:middle]),
            EncodedBatch(self.events[middle:], self.chunks[middle:]),
        )

    def requests(self, max_bytes: int) -> list[EncodedBatch]:
        """The events cut into `_bulk` bodies of at most ``max_bytes`` (one larger goes alone)."""
        if self.events and sum([len(chunk) for chunk in self.chunks]) <= max_bytes:
            # The usual case, told without a call per event.
            return [EncodedBatch(list(self.events), list(self.chunks))]
        runs = cut_to_fit(list(zip(self.events, self.chunks, strict=True)), _chunk_size, max_bytes)
        return [EncodedBatch([event for event, _ in run], [chunk for _, chunk in run]) for run in runs]


def _chunk_size(item: tuple[Event, bytes]) -> int:
    return len(item[1])


def has_timestamp(body: bytes) -> bool:
    """Whether the encoded document has a top-level ``@timestamp``, decoding it only when unsure.

    ECS documents start with it; OCSF and most raw documents do not mention it at all.
    """
    if body.startswith(b'{"@timestamp":'):
        return True
    if b'"@timestamp"' not in body:
        return False
    document = orjson.loads(body)
    return isinstance(document, dict) and "@timestamp" in document


class BulkEncoder:
    """Encodes events for one sink configuration: its action, targets and timestamp rule."""

    def __init__(self, targets: Mapping[LogType, str], action: Action, add_timestamp: bool) -> None:
        self._prefixes = {
            log_type: b'{"' + action.encode() + b'":{"_index":' + orjson.dumps(name) + b',"_id":'
            for log_type, name in targets.items()
        }
        # Data streams refuse a document without @timestamp; the raw and OCSF formats have none.
        self._add_timestamp = add_timestamp

    def encode(self, batch: Sequence[Event]) -> EncodedBatch:
        encoded = EncodedBatch()
        events = encoded.events
        chunks = encoded.chunks
        prefixes = self._prefixes
        dumps = orjson.dumps
        for event in batch:
            event_id = event.record.event_id
            body = event.body
            if (
                len(event_id) * 4 <= MAX_ID_BYTES
                # A byte's value, not a one-byte string: that search is several times faster.
                and 10 not in body  # "\n"
                and 13 not in body  # "\r"
                and (not self._add_timestamp or body.startswith(b'{"@timestamp":'))
            ):
                # Nothing to check further or to add: the usual case, in this loop rather than a call.
                events.append(event)
                chunks.append(
                    b"".join((prefixes[event.record.log_type], dumps(event_id), b"}}\n", body, b"\n"))
                )
                continue
            chunk_or_reason = self._encode_event(event)
            if isinstance(chunk_or_reason, bytes):
                events.append(event)
                chunks.append(chunk_or_reason)
            else:
                encoded.rejected.append(Rejection(event, chunk_or_reason))
        return encoded

    def _encode_event(self, event: Event) -> bytes | str:
        event_id = event.record.event_id
        # A character is at most 4 UTF-8 bytes: only a long id needs encoding to be measured.
        if len(event_id) * 4 > MAX_ID_BYTES and len(event_id.encode("utf-8")) > MAX_ID_BYTES:
            return f"event id is longer than Elasticsearch's {MAX_ID_BYTES}-byte `_id` limit"
        body = event.body
        # JSON encoders escape newlines inside strings, so a raw one would end the NDJSON line
        # early and break every action after it: refuse this one event, not the batch.
        if b"\n" in body or b"\r" in body:
            return "encoded document contains a raw line break, which NDJSON cannot carry"
        if self._add_timestamp and not has_timestamp(body):
            body = self._with_timestamp(event, body)
            if not body:
                return "document is not a JSON object, so a data stream cannot take it"
        return b"".join((self._prefixes[event.record.log_type], orjson.dumps(event_id), b"}}\n", body, b"\n"))

    @staticmethod
    def _with_timestamp(event: Event, body: bytes) -> bytes:
        """``body`` with ``@timestamp`` (the record's time) spliced in as its first key."""
        stripped = body.strip()
        if not stripped.startswith(b"{"):
            return b""
        stamp = b'{"@timestamp":' + orjson.dumps(event.time.isoformat().replace("+00:00", "Z"))
        rest = stripped[1:].lstrip()
        if rest.startswith(b"}"):
            return stamp + rest
        return stamp + b"," + rest
