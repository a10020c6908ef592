"""Soak: the real forwarder for a chosen time under random faults; then account for every event.

Runs `cloudflare-siem-forwarder run` as a subprocess against the Cloudflare simulator (records
arriving in real time, some late) fanning out to the Elasticsearch fake and the file sink, while a
fault thread injects, at random: Cloudflare 5xx/429/resets/proxy pages/blocks, Elasticsearch
outages, whole-request 429/503, partial item failures, poison items, slow answers. At the end the
forwarder gets SIGTERM, and every record the simulator holds before the final checkpoints must be
in Elasticsearch or in the dead letters.

    python -m benchmarks.soak --duration 600 --rate 20 --seed 7

Prints (and with --json writes) events delivered, lost (must be 0), duplicates, dead letters,
faults injected and the forwarder's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.support.soak import soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--rate", type=float, default=20.0, help="records per second generated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the report here")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        report = soak(arguments.duration, arguments.rate, arguments.seed, Path(scratch))
    result = asdict(report) | {"faults": dict(report.faults)}
    print(json.dumps(result, indent=2))
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if report.lost == 0 and report.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
