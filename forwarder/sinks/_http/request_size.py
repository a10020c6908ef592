"""A batch cut into requests of at most ``batch_max_bytes``: the rule every HTTP sink follows.

The pipeline cuts a batch by its documents' bytes; a protocol wraps each document (a HEC event
object, a `_bulk` action line), so a full batch can come out larger on the wire than the limit that
proxies and receivers enforce. A sink cuts it again, here, by the bytes it really sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def cut_to_fit(items: Sequence[Item], size: Callable[[Item], int], limit: int) -> list[list[Item]]:
    """``items`` in order, in runs whose ``size`` adds up to at most ``limit``.

    An item larger than ``limit`` on its own is a run of its own: refusing it is the receiver's
    answer to give (a 413), not this function's.
    """
    runs: list[list[Item]] = []
    current: list[Item] = []
    total = 0
    for item in items:
        added = size(item)
        if current and total + added > limit:
            runs.append(current)
            current, total = [], 0
        current.append(item)
        total += added
    if current:
        runs.append(current)
    return runs
