"""Profile the forwarder with py-spy on the HEC and `_bulk` scenarios; print the top costs by CPU share.

    python -m benchmarks.e2e.profile [--events 100000] [--out benchmarks/profiles]

py-spy samples the real `cloudflare-siem-forwarder once` process (idle samples excluded, so the
shares are of CPU time). Writes, per sink, the top functions by own time and by time including
callees (``<sink>-top.txt``) and a flame graph (``<sink>.svg``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.e2e.receivers import Receiver
from benchmarks.e2e.scenarios import CLI, Dataset, forwarder_env, simulator

PY_SPY = Path(sys.executable).with_name("py-spy")
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:]*):\d+\)$")
ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def frame_name(frame: str) -> str:
    """`path/to/file.py:function`, with the site-packages or repository prefix cut off."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"].replace(ROOT, "")
    path = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", path)
    return f"{path}:{match['function']}"


def summarize(collapsed: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    lines = [f"{total} samples of CPU time", "", "## own time (the function itself)", ""]
    lines += [f"{count / total:6.1%}  {name}" for name, count in own.most_common(top)]
    lines += ["", "## including callees", ""]
    lines += [f"{count / total:6.1%}  {name}" for name, count in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"


def profile(sink: str, events: int, out: Path, scratch: Path) -> str:
    data = Dataset.ending_now(events)
    with simulator(data) as running:
        receiver = Receiver(sink, scratch)  # type: ignore[arg-type]
        try:
            collapsed = scratch / f"{sink}.txt"
            record = [str(PY_SPY), "record", "--rate", "200", "--nonblocking"]
            with (scratch / "py-spy.log").open("ab") as log:
                for fmt, target in (("raw", collapsed), ("flamegraph", out / f"{sink}.svg")):
                    receiver.stop()
                    receiver = Receiver(sink, scratch)  # type: ignore[arg-type]
                    env = forwarder_env(running.base_url, data, receiver, "ecs", scratch)
                    command = [*record, "--format", fmt, "-o", str(target), "--", str(CLI), "once"]
                    subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        finally:
            receiver.stop()
    summary = f"# py-spy: forwarder once -> {sink}, ECS, gzip off, {events:,} events\n\n" + summarize(
        collapsed
    )
    (out / f"{sink}-top.txt").write_text(summary)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/profiles"))
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        for sink in ("splunk_hec", "elasticsearch"):
            print(profile(sink, arguments.events, arguments.out, Path(scratch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
