"""Per-record cost of each in-process stage of the ECS path, on the end-to-end benchmark's records.

Run from the repository root (with PYTHONPATH=$PWD in another checkout; alternate checkouts for an A/B):

    .venv/bin/python -m benchmarks.stage_bench [--records 20000] [--repeat 7]

Times, over the same simulator access records the end-to-end benchmark serves: parsing a page of
them (`orjson.loads`), `make_record` (event id and time), ECS map + encode (and its two halves), the
HEC request body (one join) and the `_bulk` lines. Best of --repeat runs, µs per record, one core.
Then the glue around them: a page's records as the paging makes them (`records_from_api`, the
objects of a page in one loop), and the whole in-process path from served pages through a Stream,
its Checkpointer and the Pipeline into a sink that takes every batch (`benchmarks/glue_stage.py`,
raw format, CPU time).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from benchmarks.e2e.scenarios import ACCOUNT, Dataset, simulator
from benchmarks.glue_stage import glue
from fakes.cloudflare.config import ACCESS_REQUESTS
from forwarder.formats import encoder_for
from forwarder.formats.ecs import to_ecs
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.elasticsearch.encoder import BulkEncoder
from forwarder.sinks.splunk_hec.encoder import HecEncoder
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.source.paging import records_from_api


def best(run: Callable[[], object], count: int, repeat: int) -> float:
    """µs per record of ``run`` over ``count`` records, the best of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()
    with simulator(Dataset.ending_now(arguments.records)) as running:
        data = running.records(ACCOUNT, ACCESS_REQUESTS)[: arguments.records]
    count = len(data)
    page = orjson.dumps({"result": data, "success": True})
    observed = datetime.now(UTC)
    encode = encoder_for("ecs")
    records = [make_record(LogType.ACCESS_REQUESTS, ACCOUNT, item, observed) for item in data]
    documents = [to_ecs(record) for record in records]
    events = [Event(record, encode(record)) for record in records]
    hec = HecEncoder(SplunkHecSettings(url="http://localhost:8088", token="benchmark"))  # type: ignore[arg-type]
    bulk = BulkEncoder({LogType.ACCESS_REQUESTS: "logs-cloudflare.access_requests-default"}, "create", True)

    def map_only() -> None:
        for record in records:
            to_ecs(record)

    stages: dict[str, Callable[[], object]] = {
        "page parse (orjson.loads)": lambda: orjson.loads(page),
        "make_record": lambda: [
            make_record(LogType.ACCESS_REQUESTS, ACCOUNT, item, observed) for item in data
        ],
        "ECS map + encode": lambda: [encode(record) for record in records],
        "  of it: to_ecs": map_only,
        "  of it: orjson.dumps": lambda: [orjson.dumps(document) for document in documents],
        "HEC request body": lambda: hec.body(events),
        "_bulk lines + body": lambda: bulk.encode(events).body(),
        "page -> records (paging)": lambda: [
            records_from_api(LogType.ACCESS_REQUESTS, ACCOUNT, data[start : start + 1000], observed)
            for start in range(0, count, 1000)
        ],
    }
    print(f"{count:,} simulator access records, best of {arguments.repeat}, µs per record")
    for name, run in stages.items():
        print(f"{name:28s} {best(run, count, arguments.repeat):6.2f}")
    # Last: it freezes the records above out of the collector's way.
    print(f"{'stream -> null sink (CPU)':28s} {glue(data, arguments.repeat):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
