"""Output formats: a record becomes the bytes a sink ships.

Every format is a pure function of a :class:`~forwarder.records.Record`. The document formats
(raw, ECS, OCSF, ASIM) map it to a JSON-ready dict, encoded with ``orjson.dumps`` (for OCSF, a faster
path to the same bytes); the key=value formats (CEF, LEEF) write one line of text. The
pipeline encodes a record once per format with :func:`encoder_for`, however many sinks use it, and
a sink ships those bytes as they are. Every format decides an event's outcome by
:mod:`forwarder.formats.outcome` and reads values through :mod:`forwarder.formats.values`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson

from forwarder.formats.key_value import DEFAULT_OPTIONS, KeyValueOptions
from forwarder.records import Record

# The formats whose output is one JSON document per event: what every sink can carry.
DocumentFormat = Literal["raw", "ecs", "ocsf", "asim"]
Format = Literal["raw", "ecs", "ocsf", "asim", "cef", "leef"]
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


def mapper_for(fmt: DocumentFormat) -> Callable[[Record], Document]:
    if fmt == "raw":
        return to_raw
    if fmt == "ecs":
        from forwarder.formats.ecs import to_ecs

        return to_ecs
    if fmt == "ocsf":
        from forwarder.formats.ocsf import to_ocsf

        return to_ocsf
    if fmt == "asim":
        from forwarder.formats.asim import to_asim

        return to_asim
    raise ValueError(f"unknown output format {fmt!r}")


def encoder_for(fmt: Format, options: KeyValueOptions = DEFAULT_OPTIONS) -> Callable[[Record], bytes]:
    """A record in ``fmt``, as bytes: for a document format ``orjson.dumps(mapper_for(fmt)(record))``,
    for CEF and LEEF the UTF-8 line, written with ``options`` (the defaults unless a sink says)."""
    if fmt == "cef":
        from forwarder.formats.cef import cef_encoder

        return cef_encoder(options)
    if fmt == "leef":
        from forwarder.formats.leef import leef_encoder

        return leef_encoder(options)
    if fmt == "ocsf":
        from forwarder.formats.ocsf_json import encode_ocsf

        return encode_ocsf
    mapper = mapper_for(fmt)
    dumps = orjson.dumps

    def encode(record: Record) -> bytes:
        return dumps(mapper(record))

    return encode
