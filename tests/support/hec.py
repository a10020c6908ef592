"""The fake Splunk HEC served on a thread of its own, for tests that run the forwarder as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fakes.splunk_hec import FakeHec, HecToken
from fakes.threaded import ThreadedFake

HEC_TOKEN = "00000000-0000-4000-8000-000000000001"


@contextmanager
def splunk_hec(**options: Any) -> Iterator[ThreadedFake[FakeHec]]:
    with splunk_hec_serving(FakeHec([HecToken(HEC_TOKEN, use_ack=True)], **options)) as fake:
        yield fake


@contextmanager
def splunk_hec_serving(hec: FakeHec) -> Iterator[ThreadedFake[FakeHec]]:
    """``hec`` served on a thread of its own, for subprocess tests."""
    with ThreadedFake(hec, FakeHec.start, FakeHec.close) as fake:
        yield fake
