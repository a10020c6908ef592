"""The one compression helper of the HTTP sinks: reproducible bytes, the same on and off the event loop."""

from __future__ import annotations

import gzip

from forwarder.sinks._http.compression import IN_THREAD_ABOVE, compress, compress_body


def test_gzip_is_reproducible() -> None:
    body = b'{"a":1}\n' * 100
    # Two calls in the same second would agree even with a time in the header: the header's
    # MTIME field (bytes 4 to 8) is what makes a retried request byte-identical, whenever it is sent.
    assert compress(body, 1)[4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(compress(body, 9)) == body


async def test_a_large_body_compresses_to_the_same_bytes_in_a_thread() -> None:
    small = b'{"a":1}\n' * 10
    large = bytes(range(256)) * (IN_THREAD_ABOVE // 256 + 1)
    assert len(small) <= IN_THREAD_ABOVE < len(large)
    for body in (small, large):
        compressed = await compress_body(body, 1)
        assert compressed == compress(body, 1)
        assert gzip.decompress(compressed) == body
