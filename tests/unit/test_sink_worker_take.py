"""A batch is cut from the queue as the one-item-at-a-time rule says: the oldest first, up to
batch_max_events, and up to batch_max_bytes (the first item always, however large)."""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.pipeline.sink_worker import SinkWorker


class _Sized:
    def __init__(self, size: int) -> None:
        self.size = size


def _reference_take(queue: deque[Any], max_events: int, max_bytes: int) -> list[Any]:
    batch: list[Any] = []
    size = 0
    while queue and len(batch) < max_events:
        item = queue[0]
        if batch and size + item.size > max_bytes:
            break
        batch.append(queue.popleft())
        size += item.size
    return batch


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from([1, 2, 50, 300, 2000]), max_size=40),
    st.integers(1, 45),
    st.integers(1, 5000),
)
def test_take_cuts_what_the_reference_cuts(sizes: list[int], max_events: int, max_bytes: int) -> None:
    items: list[Any] = [_Sized(size) for size in sizes]
    expected_queue = deque(items)
    worker = SinkWorker.__new__(SinkWorker)
    worker._queue = deque(items)
    taken: list[Any] = worker._take(max_events, max_bytes)
    assert taken == _reference_take(expected_queue, max_events, max_bytes)
    assert list(worker._queue) == list(expected_queue)
