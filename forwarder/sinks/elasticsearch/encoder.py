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


# Not frozen: one is made per event, and a frozen dataclass's __init__ costs several times as much.
@dataclass(slots=True)
class EncodedEvent:
    event: Event
    # The action line and the source line, each ending in "\n".
    chunk: bytes


@dataclass(slots=True)
class EncodedBatch:
    """The events that go on the wire, in the order of their actions, and those refused before."""

    items: list[EncodedEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [item.event for item in self.items]

    def body(self) -> bytes:
        return b"".join([item.chunk for item in self.items])

    def halves(self) -> tuple[EncodedBatch, EncodedBatch]:
        middle = len(self.items) // 2
        return EncodedBatch(self.items[:middle]), EncodedBatch(self.items[middle:])

    def requests(self, max_bytes: int) -> list[EncodedBatch]:
        """The items cut into `_bulk` bodies of at most ``max_bytes`` (one item larger goes alone)."""
        if self.items and sum([len(item.chunk) for item in self.items]) <= max_bytes:
            # The usual case, told without a call per item.
            return [EncodedBatch(list(self.items))]
        return [EncodedBatch(run) for run in cut_to_fit(self.items, _chunk_size, max_bytes)]


def _chunk_size(item: EncodedEvent) -> int:
    return len(item.chunk)


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
        items = encoded.items
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
                chunk = b"".join((prefixes[event.record.log_type], dumps(event_id), b"}}\n", body, b"\n"))
                items.append(EncodedEvent(event, chunk))
                continue
            chunk_or_reason = self._encode_event(event)
            if isinstance(chunk_or_reason, bytes):
                encoded.items.append(EncodedEvent(event, chunk_or_reason))
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
