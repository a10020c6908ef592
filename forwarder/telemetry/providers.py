"""What every component's instruments share: the instrumentation scope and the duration buckets."""

from __future__ import annotations

SCOPE = "forwarder"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
