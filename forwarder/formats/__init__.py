"""Output formats: a record becomes the document a sink ships.

Each mapping is a pure function from a :class:`~forwarder.records.Record` to a JSON-ready dict.
The pipeline maps a record once per format, however many sinks use that format, and encodes it
with :func:`encoder_for`, which is the mapping followed by ``orjson.dumps`` (for ECS and OCSF, a
faster path to the same bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson

from forwarder.records import Record

Format = Literal["raw", "ecs", "ocsf"]
Document = dict[str, Any]


def to_raw(record: Record) -> Document:
    """The record as Cloudflare returned it, plus the ids a receiver needs to correlate it."""
    document = dict(record.data)
    document["_forwarder"] = {
        "event_id": record.event_id,
        "account_id": record.account_id,
        "log_type": record.log_type.value,
    }
    return document


def mapper_for(fmt: Format) -> Callable[[Record], Document]:
    if fmt == "raw":
        return to_raw
    if fmt == "ecs":
        from forwarder.formats.ecs import to_ecs

        return to_ecs
    if fmt == "ocsf":
        from forwarder.formats.ocsf import to_ocsf

        return to_ocsf
    raise ValueError(f"unknown output format {fmt!r}")


def encoder_for(fmt: Format) -> Callable[[Record], bytes]:
    """The document of a record in ``fmt``, as JSON bytes: ``orjson.dumps(mapper_for(fmt)(record))``."""
    if fmt == "ecs":
        from forwarder.formats.ecs_json import encode_ecs

        return encode_ecs
    if fmt == "ocsf":
        from forwarder.formats.ocsf_json import encode_ocsf

        return encode_ocsf
    mapper = mapper_for(fmt)
    dumps = orjson.dumps

    def encode(record: Record) -> bytes:
        return dumps(mapper(record))

    return encode
