"""Request bodies of the generic HTTP sink: the documents, as the pipeline encoded them, joined as
NDJSON or as a JSON array. The bytes are spliced in, never decoded and encoded again."""

from __future__ import annotations

from collections.abc import Sequence

from forwarder.sinks.http.presets import Encoding

CONTENT_TYPES: dict[Encoding, str] = {"ndjson": "application/x-ndjson", "json_array": "application/json"}


def body(documents: Sequence[bytes], encoding: Encoding) -> bytes:
    """One request body: a line per document (each ending in a newline), or ``[doc,doc]``."""
    if encoding == "json_array":
        return b"[" + b",".join(documents) + b"]"
    return b"".join(document + b"\n" for document in documents)


def size_in_request(document: bytes) -> int:
    """What one document adds to a request: its bytes and its newline (or comma)."""
    return len(document) + 1
