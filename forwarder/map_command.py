"""The body of `cloudflare-siem-forwarder map`: records in, one mapped document per line out.

Input is whatever a person has at hand: a JSON array of records, a whole Cloudflare API response
(the envelope with `result`), or NDJSON. Output is NDJSON, exactly what a sink of that format would
be given. A bad line is reported with its number and the rest still maps.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, TextIO

import orjson

from forwarder.formats import Format, encoder_for
from forwarder.records import LogType
from forwarder.source.paging import record_from_api
from forwarder.source.scim_bodies import DEFAULT_MAX_BODY_BYTES, DEFAULT_REDACT_KEYS, prepare_scim_record

EXIT_OK = 0
# Some input could not be mapped; everything else was written.
EXIT_BAD_INPUT = 1

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class _Item:
    where: str  # "line 3" or "record 3", for messages a person reads
    value: Any = None
    error: str | None = None


def _describe(error: orjson.JSONDecodeError) -> str:
    return f"malformed JSON: {error.msg} (column {error.colno})"


def _ndjson(text: bytes) -> Iterator[_Item]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _Item(f"line {number}", orjson.loads(line))
        except orjson.JSONDecodeError as error:
            yield _Item(f"line {number}", error=_describe(error))


def _is_envelope(document: Any) -> bool:
    """A Cloudflare v4 answer rather than a record: no log record has these keys."""
    if not isinstance(document, dict):
        return False
    return "success" in document or (
        "result" in document and ("errors" in document or "messages" in document)
    )


def _items(text: bytes) -> Iterator[_Item]:
    """The records in the input, in order, with what is wrong with the ones that are not."""
    text = text.removeprefix(_BOM)
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as whole_error:
        if stripped.startswith(b"[") or stripped.split(b"\n", 1)[0].strip() == b"{":
            # A JSON array, or an object spread over lines, that does not parse: line-by-line
            # reading would only report every line of it.
            yield _Item(f"line {whole_error.lineno}", error=_describe(whole_error))
            return
        items = list(_ndjson(text))
        if items and all(item.error is not None for item in items):
            # Not one line parsed: this was one document (a pretty-printed envelope, say), broken.
            yield _Item(f"line {whole_error.lineno}", error=_describe(whole_error))
            return
        yield from items
        return
    if _is_envelope(document):
        if document.get("success") is not True:
            # An error answer saved to a file: mapping it as a record would invent an event.
            errors = orjson.dumps(document.get("errors")).decode()[:500]
            yield _Item(
                "envelope", error=f"the API answer is not a success (`success` is not true): {errors}"
            )
            return
        if not isinstance(document.get("result"), list):
            yield _Item("envelope", error="the API answer has no `result` list of records")
            return
        records: list[Any] = document["result"]
    elif isinstance(document, list):
        records = document
    else:
        records = [document]
    for index, value in enumerate(records, start=1):
        yield _Item(f"record {index}", value)


def run_map(
    fmt: Format,
    log_type: LogType,
    source: BinaryIO,
    out: BinaryIO,
    err: TextIO,
    *,
    account_id: str = "",
    redact_keys: frozenset[str] = DEFAULT_REDACT_KEYS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    observed: datetime | None = None,
) -> int:
    """Map every record in `source` to `fmt` and write NDJSON to `out`; returns the exit code.

    SCIM records are redacted and bounded exactly as the stream does it. `observed` fixes the
    fetch time (event.created, metadata.logged_time) for reproducible output; it defaults to now.
    """
    # The pipeline's own encoder: the output is the bytes a sink would ship.
    encode = encoder_for(fmt)
    prepare = functools.partial(prepare_scim_record, redact_keys=redact_keys, max_body_bytes=max_body_bytes)
    bad = 0
    for item in _items(source.read()):
        if item.error is None and not isinstance(item.value, dict):
            item = _Item(item.where, error=f"not a JSON object but {type(item.value).__name__}")
        if item.error is not None:
            bad += 1
            print(f"{item.where}: {item.error}", file=err)
            continue
        try:
            # A time whose offset pushes it past year 1 or 9999 overflows datetime.
            record = record_from_api(log_type, account_id, item.value, observed, prepare)
        except (ValueError, OverflowError) as error:
            bad += 1
            print(f"{item.where}: cannot be read: {error}", file=err)
            continue
        try:
            encoded = encode(record)
        except orjson.JSONEncodeError as error:
            # orjson refuses integers past 64 bits, which a stdlib-decoded input can hold.
            bad += 1
            print(f"{item.where}: cannot be encoded: {error}", file=err)
            continue
        out.write(encoded + b"\n")
    return EXIT_BAD_INPUT if bad else EXIT_OK
