"""End-to-end benchmark: the real forwarder next to its peers, in one run, on the same events and receivers.

    python -m benchmarks.e2e [--quick] [--repeat N] [--json results.json]
    python -m benchmarks.e2e --only throughput --peers fair --events 50000 --repeat 5   # the same job, ~3 min

Scenarios (see RESULTS.md for what each measures and how the peers differ):

(a) simulator -> `cloudflare-siem-forwarder once` (ECS, OCSF) -> fake HEC, fake `_bulk`, rsyslog (TCP), file;
    beside elasticsearch-py, a plain-Python json + httpx baseline, the orjson ceiling, and syslog-ng twice:
    "fair" (`syslog_ng_fair.py`: the raw API records, parsed and mapped to the forwarder's ECS fields,
    the same job; the speed targets are judged against it) and "pass-through" (the forwarder's
    already-mapped lines spliced into an envelope: a labelled reference, not the same job);
(b) peak RSS of the forwarder during a 1-million-event backfill;
(c) backfill rate under Cloudflare's rate limit (1200 requests / 300 s, time-scaled), and 429s received.

Every tool runs as a process of its own and is measured the same way: CPU seconds from the kernel
(`wait4` rusage, or /proc/<pid>/stat for daemons) minus the same tool's start-up cost on empty input.
"""
