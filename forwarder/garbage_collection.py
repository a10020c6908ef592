"""Garbage-collector settings for the forwarding loop (measured in benchmarks/RESULTS.md).

A page of 1,000 records allocates tens of thousands of short-lived containers. With CPython's
default first threshold (700 allocations) a young collection runs every few records, and each one
promotes the records still being mapped into older generations, which later collections walk
again. Objects that live for the whole process (modules, classes, settings, the HTTP clients)
are frozen out of every collection.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_for_throughput() -> None:
    """Call once, after start-up and before the loop."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
