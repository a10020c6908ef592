"""Request bodies compressed with gzip: the one helper every HTTP sink uses.

``mtime=0`` keeps the bytes on the wire a function of the input alone (reproducible requests, exact
tests). Compressing a large body takes milliseconds; above :data:`IN_THREAD_ABOVE` bytes it runs in
a thread (zlib releases the GIL), so the event loop keeps serving the other sinks and the source.
"""

from __future__ import annotations

import asyncio
import gzip

CONTENT_ENCODING = "gzip"
# One rule for every sink: below this a body compresses (at level 1) in well under a millisecond,
# less than handing it to a thread costs in latency.
IN_THREAD_ABOVE = 64 * 1024


def compress(body: bytes, level: int) -> bytes:
    """``body`` gzipped at ``level`` (1-9), the same bytes for the same input every time."""
    return gzip.compress(body, compresslevel=level, mtime=0)


async def compress_body(body: bytes, level: int) -> bytes:
    """:func:`compress`, off the event loop when ``body`` is large."""
    if len(body) > IN_THREAD_ABOVE:
        return await asyncio.to_thread(compress, body, level)
    return compress(body, level)
