"""A sha256 of everything the hot path writes, to show a speed change writes the same bytes.

Run from the repository root (with PYTHONPATH=$PWD in another checkout), before and after a change:

    .venv/bin/python -m benchmarks.output_digest [--records 20000]

Over the end-to-end benchmark's simulator access records plus every golden input record: the event
ids, the raw, ECS, OCSF and CEF bytes, the HEC request body and the `_bulk` body. One digest per
part; equal digests mean equal bytes. The observation time is fixed, so the digests are repeatable.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks.e2e.scenarios import ACCOUNT, Dataset, simulator
from fakes.cloudflare.config import ACCESS_REQUESTS
from forwarder.formats import encoder_for
from forwarder.records import LogType, Record
from forwarder.sinks.base import Event
from forwarder.sinks.elasticsearch.encoder import BulkEncoder
from forwarder.sinks.splunk_hec.encoder import HecEncoder, join
from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.source.paging import record_from_api

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "input"
OBSERVED = datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)
# A fixed end (not now), so that the simulator serves the same records at every run.
END = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def golden_records() -> list[Record]:
    records = []
    for log_type in LogType:
        for path in sorted(GOLDEN.glob(f"{log_type.value}*")):
            text = path.read_text()
            if path.suffix == ".ndjson":
                items = [orjson.loads(line) for line in text.splitlines() if line.strip()]
            else:
                items = orjson.loads(text)["result"]
            records += [record_from_api(log_type, ACCOUNT, item, OBSERVED) for item in items]
    return records


def digests(records: list[Record]) -> dict[str, str]:
    parts: dict[str, list[bytes]] = {"ids": [record.event_id.encode() for record in records]}
    events: dict[str, list[Event]] = {}
    for fmt in ("raw", "ecs", "ocsf", "cef"):
        encode = encoder_for(fmt)  # type: ignore[arg-type]
        events[fmt] = [Event(record, encode(record)) for record in records]
        parts[fmt] = [event.body for event in events[fmt]]
    hec = HecEncoder(SplunkHecSettings(url="http://localhost:8088", token="digest", host="digest"))  # type: ignore[arg-type]
    indices = {log_type: f"logs-cloudflare.{log_type.value}-default" for log_type in LogType}
    bulk = BulkEncoder(indices, "create", True)
    for fmt in ("ecs", "ocsf", "raw"):
        body = join(hec.encode_all(events[fmt]))
        # The one-join body of the usual request, where this checkout has it, is the same bytes.
        if hasattr(hec, "body"):
            assert hec.body(events[fmt]) == body
        parts[f"hec {fmt}"] = [body]
        parts[f"_bulk {fmt}"] = [bulk.encode(events[fmt]).body()]
    return {name: hashlib.sha256(b"\0".join(values)).hexdigest() for name, values in parts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    arguments = parser.parse_args()
    with simulator(Dataset(arguments.records, END)) as running:
        data = running.records(ACCOUNT, ACCESS_REQUESTS)[: arguments.records]
    records = [record_from_api(LogType.ACCESS_REQUESTS, ACCOUNT, item, OBSERVED) for item in data]
    records += golden_records()
    print(f"{len(records):,} records")
    for name, digest in digests(records).items():
        print(f"{name:12s} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
