"""Mapping plus encoding throughput, beside orjson.loads + orjson.dumps of the same records.

Run from the repository root:

    .venv/bin/python benchmarks/mapping_bench.py [--records 20000] [--repeat 7]

For each log type and format it times `orjson.dumps(mapper(record))` over every record (what the
pipeline does once per format) and, in the same run, `orjson.dumps(orjson.loads(raw))` over the
same records as the API sent them: the cost of merely reading and writing the JSON, the floor any
mapping is compared with. SCIM records are prepared (parsed, redacted) once beforehand, as the
stream does; that cost is reported on its own line. Medians of --repeat runs, one core.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from forwarder.formats import encoder_for, mapper_for
from forwarder.records import LogType, Record, make_record
from forwarder.source.scim_bodies import prepare_scim_record

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "tests" / "golden" / "input"
OBSERVED = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
Mapper = Callable[[Record], dict[str, Any]]


def _samples(log_type: LogType) -> list[dict[str, Any]]:
    """The golden inputs of one log type: the documented sample plus the hand-made cases."""
    samples: list[dict[str, Any]] = []
    for path in sorted(INPUTS.glob(f"{log_type.value}*")):
        text = path.read_bytes()
        if path.suffix == ".json":
            samples.extend(orjson.loads(text)["result"])
        else:
            samples.extend(orjson.loads(line) for line in text.splitlines() if line.strip())
    return samples


def _records(log_type: LogType, count: int) -> tuple[list[bytes], list[dict[str, Any]]]:
    """`count` distinct records (ray ids and times vary) as wire bytes and as decoded dicts."""
    samples = _samples(log_type)
    records = []
    for index in range(count):
        record = dict(samples[index % len(samples)])
        moment = (
            f"2026-08-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:{index % 59:02d}.{index:06d}Z"
        )
        # Audit logs keep their time inside `action`.
        *objects, field = log_type.description.time_path
        holder = record
        for name in objects:
            inner = holder.get(name)
            holder[name] = dict(inner) if isinstance(inner, dict) else {}
            holder = holder[name]
        holder[field] = moment
        if log_type is LogType.ACCESS_REQUESTS:
            record["ray_id"] = f"{index:016x}"
        records.append(record)
    return [orjson.dumps(record) for record in records], records


# A workload is set up afresh for every timed run (setup untimed), so that data one workload
# needs is not kept alive while another runs: 40,000 live documents make every garbage
# collection slower and would distort whatever is measured next.
Workload = Callable[[], Callable[[], object]]


def _medians(workloads: dict[str, Workload], repeat: int) -> dict[str, float]:
    """Median seconds per workload; repetitions are interleaved so that noise from other
    processes on the machine falls on every workload alike."""
    runs: dict[str, list[float]] = {label: [] for label in workloads}
    for repetition in range(repeat + 1):
        for label, setup in workloads.items():
            run = setup()
            gc.collect()
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            if repetition:  # the first round is a warm-up
                runs[label].append(elapsed)
            del run
    return {label: statistics.median(seconds) for label, seconds in runs.items()}


def _baseline(wire: list[bytes]) -> Workload:
    loads, dumps = orjson.loads, orjson.dumps
    return lambda: lambda: [dumps(loads(raw)) for raw in wire]


def _prepare(decoded: list[dict[str, Any]]) -> Workload:
    return lambda: lambda: [prepare_scim_record(data) for data in decoded]


def _map_and_dump(mapper: Mapper, records: list[Record]) -> Workload:
    dumps = orjson.dumps
    return lambda: lambda: [dumps(mapper(record)) for record in records]


def _encode(encode: Callable[[Record], bytes], records: list[Record]) -> Workload:
    return lambda: lambda: [encode(record) for record in records]


def _map_only(mapper: Mapper, records: list[Record]) -> Workload:
    def run() -> None:
        for record in records:
            mapper(record)

    return lambda: run


def _map_and_keep(mapper: Mapper, records: list[Record]) -> Workload:
    """Every document alive at once, as when a whole batch is mapped before any is encoded."""
    return lambda: lambda: [mapper(record) for record in records]


def _dump_only(mapper: Mapper, records: list[Record]) -> Workload:
    dumps = orjson.dumps

    def setup() -> Callable[[], object]:
        documents = [mapper(record) for record in records]
        return lambda: [dumps(document) for document in documents]

    return setup


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"orjson {orjson.__version__}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        # One core, as the issue asks: the numbers are per core, whatever the machine has.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {_machine()}")
    print(f"records per run: {options.records}, repetitions: {options.repeat} (median), one core\n")
    print("| log type | work | events/s | µs/event | cost vs loads+dumps |")
    print("| --- | --- | ---: | ---: | ---: |")

    for log_type in LogType:
        wire, decoded = _records(log_type, options.records)
        workloads: dict[str, Workload] = {"orjson.loads + orjson.dumps (baseline)": _baseline(wire)}
        if log_type is LogType.SCIM_UPDATES:
            workloads["prepare_scim_record (parse + redact body)"] = _prepare(decoded)
            decoded = [prepare_scim_record(data) for data in decoded]
        records = [make_record(log_type, ACCOUNT, data, observed=OBSERVED) for data in decoded]
        for fmt in ("raw", "ecs", "ocsf"):
            mapper = mapper_for(fmt)
            workloads[f"{fmt}: map + orjson.dumps"] = _map_and_dump(mapper, records)
            if fmt != "raw":
                # What the pipeline runs: the same bytes, written directly where it can.
                workloads[f"{fmt}: encoder_for (the pipeline's encoder)"] = _encode(encoder_for(fmt), records)
                # The two halves apart, to show where the time goes.
                workloads[f"{fmt}: map only"] = _map_only(mapper, records)
                workloads[f"{fmt}: orjson.dumps of mapped documents only"] = _dump_only(mapper, records)
                workloads[f"{fmt}: map only, keeping every document alive"] = _map_and_keep(mapper, records)
        for line_format in ("cef", "leef"):
            # The key=value lines a syslog sink frames, as the pipeline encodes them.
            workloads[f"{line_format}: encoder_for (the pipeline's encoder)"] = _encode(
                encoder_for(line_format), records
            )
        medians = _medians(workloads, options.repeat)
        baseline = medians["orjson.loads + orjson.dumps (baseline)"]
        for label, seconds in medians.items():
            print(
                f"| {log_type.value} | {label} | {options.records / seconds:,.0f} "
                f"| {seconds / options.records * 1e6:.2f} | {seconds / baseline:.1f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
