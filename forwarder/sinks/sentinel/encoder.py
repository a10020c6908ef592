"""Request bodies of the Logs Ingestion API: a JSON array of the rows, spliced from the encoded documents.

The document bytes (``Event.body``) are put in the array as they are: they were encoded once for every sink
of this format, and decoding them only to encode them again would double the CPU per event.
"""

from __future__ import annotations

from collections.abc import Sequence

# The bytes the array adds: one comma per row after the first, and the two brackets.
SEPARATOR = b","
BRACKETS = 2


def row_size(body: bytes) -> int:
    """What one row adds to a request: its bytes and the comma before it (the first row's pays a bracket)."""
    return len(body) + len(SEPARATOR)


def join(bodies: Sequence[bytes]) -> bytes:
    """One request body from the rows."""
    return b"[" + SEPARATOR.join(bodies) + b"]"


EMPTY = join([])
