"""Garbage-collector settings for the forwarding loop (measured in benchmarks/RESULTS.md).

Everything imported and built at start-up (modules, classes, pydantic models, the HTTP clients)
lives as long as the process, yet every full collection would walk it again: it is frozen out of
collections once start-up is done. The thresholds stay CPython's: raising the first one to 10,000
saved little CPU and cost 20-35 MB of peak RSS (cyclic garbage from requests lived longer).
"""

from __future__ import annotations

import gc


def tune_for_throughput() -> None:
    """Call once, after start-up and before the loop."""
    # No full collection first: it walked ~45,000 objects (13-16 ms, a twentieth of a `once` with
    # nothing to do) to free about 30, which now stay frozen instead: a few kB for the process's life
    # (benchmarks/STARTUP_RESULTS.md).
    gc.freeze()
