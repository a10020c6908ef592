"""Compare checkouts of the forwarder side by side: `python -m benchmarks.e2e.compare SINK FORMAT TREE...`.

Each TREE is a source checkout (e.g. a `git worktree add /tmp/old <commit>`); its `forwarder` package
is put first on the CLI's PYTHONPATH. Every repetition runs each tree once, interleaved, against the
same simulator data and a fresh receiver, with one empty run per tree for its start-up cost. Prints
CPU µs per event (start-up subtracted) per tree: the medians and every run. This is how the A/B
numbers in RESULTS.md were measured; the full harness (`python -m benchmarks.e2e`) compares tools.

    git worktree add /tmp/before bc98bfe
    python -m benchmarks.e2e.compare splunk_hec ecs /tmp/before . --events 100000 --repeat 4
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.e2e.receivers import Receiver
from benchmarks.e2e.scenarios import Dataset, forwarder_env, run_forwarder, simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e.compare", description=__doc__)
    parser.add_argument("sink", choices=["splunk_hec", "elasticsearch", "syslog", "file"])
    parser.add_argument("format", choices=["raw", "ecs", "ocsf"])
    parser.add_argument("trees", nargs="+", type=Path, help="source checkouts to compare")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument(
        "--gzip", action="store_true", help="compress (HEC, _bulk) at each tree's default level"
    )
    arguments = parser.parse_args(argv)
    trees = [str(tree.resolve()) for tree in arguments.trees]
    events = arguments.events
    data = Dataset.ending_now(events)
    empty = Dataset(0, data.end, data.hours)
    cpu: dict[str, list[float]] = {tree: [] for tree in trees}
    startup: dict[str, list[float]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as folder:
        scratch = Path(folder)
        with simulator(data) as full, simulator(empty) as nothing:
            for _ in range(arguments.repeat):
                for tree in trees:
                    for dataset, running, into, expected in (
                        (data, full, cpu, events),
                        (empty, nothing, startup, 0),
                    ):
                        receiver = Receiver(arguments.sink, scratch)
                        try:
                            env = forwarder_env(
                                running.base_url,
                                dataset,
                                receiver,
                                arguments.format,
                                scratch,
                                gzip=arguments.gzip,
                            ) | {"PYTHONPATH": tree}
                            usage = run_forwarder(env, receiver, expected, scratch / "forwarder.log")
                            into[tree].append(usage.cpu)
                        finally:
                            receiver.stop()
    for tree in trees:
        base = statistics.median(startup[tree])
        per_event = [(used - base) / events * 1e6 for used in cpu[tree]]
        runs = ", ".join(f"{value:.1f}" for value in per_event)
        print(f"{tree}: {statistics.median(per_event):.1f} µs/event ({runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
