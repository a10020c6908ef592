"""The benchmark's fair syslog-ng peer does the forwarder's job: the same ECS fields from the same records.

`tests/support/syslog_ng_fair.py` (the peer `python -m benchmarks.e2e` measures) runs a real
syslog-ng 3.38 on raw Access records (as the API serves them) into the fake HEC and the fake
`_bulk`; every document received is compared, field by field, with `forwarder.formats.ecs` on the
same record. The fields it cannot produce identically are
listed in that module's docstring and in benchmarks/RESULTS.md; they are checked here for what they
do mean (a deterministic id, a time), and everything else must be equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.config import ACCESS_REQUESTS, SimulatorConfig
from fakes.elasticsearch import FakeElasticsearch
from fakes.splunk_hec import FakeHec, HecToken
from fakes.threaded import ThreadedFake
from forwarder.formats.ecs import to_ecs
from forwarder.records import LogType, make_record
from tests.missing_tool import missing_tool
from tests.support.syslog_ng_fair import BULK_TARGET, SyslogNgUnavailable, config, deliver

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
HEC_TOKEN = "00000000-0000-4000-8000-0000000000e2"

GOLDEN = Path(__file__).parents[1] / "golden" / "input" / "access_requests_200.docs_example.json"
EDGE_CASES = Path(__file__).parents[1] / "golden" / "input" / "access_requests.cases.ndjson"
# Where the peer differs from the forwarder on the edge cases (documented in syslog_ng_fair.py and
# RESULTS.md): no IP validation or IPv6 canonical form, no epoch times, no vendor leftovers.
EDGE_CASE_DIFFERENCES = {
    ("source", "ip"),
    ("related", "ip"),
    ("@timestamp",),
    ("cloudflare", "access", "created_at"),
    ("cloudflare", "access", "country"),
    ("cloudflare", "access", "purpose_justification_response"),
}
# Not the forwarder's values, by design (see syslog_ng_fair.py): checked for their meaning instead.
OWN_VALUES = {("event", "id"), ("event", "created")}


def raw_lines() -> list[bytes]:
    """The documentation's example and the simulator's records: well-formed, nulls, no time, IPv6, IDNs."""
    example = orjson.loads(GOLDEN.read_bytes())["result"]
    end = datetime(2026, 11, 1, 12, tzinfo=UTC)
    simulated = SimulatorConfig(
        accounts=[ACCOUNT],
        seed=11,
        start=end - timedelta(hours=1),
        end=end,
        access_per_minute=10.0,
        scim_per_minute=0.0,
    )
    with SimulatorThread(simulated) as running:
        running.call(lambda simulator: simulator.generate_all())
        records = running.records(ACCOUNT, ACCESS_REQUESTS)
    return [orjson.dumps(record) for record in [*example, *records]]


@dataclass
class Kept:
    """A fake receiver on its thread, as the peer's `Endpoint`: it keeps every document."""

    kind: str
    fake: ThreadedFake[Any]

    @property
    def url(self) -> str:
        return str(self.fake.call(lambda fake: fake.url))

    def count(self) -> int:
        return len(self.documents())

    def documents(self) -> list[dict[str, Any]]:
        if self.kind == "splunk_hec":
            return list(self.fake.call(lambda fake: [dict(event.envelope) for event in fake.indexed]))
        return [
            {"_id": key, **source}
            for key, source in self.fake.call(lambda fake: fake.documents(BULK_TARGET)).items()
        ]


def serve(kind: str) -> ThreadedFake[Any]:
    if kind == "splunk_hec":
        return ThreadedFake(FakeHec([HecToken(HEC_TOKEN)]), FakeHec.start, FakeHec.close)
    return ThreadedFake(FakeElasticsearch(), FakeElasticsearch.start, FakeElasticsearch.close)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return raw_lines()


def received(kind: str, lines: list[bytes], folder: Path) -> list[dict[str, Any]]:
    source = folder / "raw.ndjson"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    with serve(kind) as fake:
        endpoint = Kept(kind, fake)
        try:
            deliver(config(source, endpoint, ACCOUNT, HEC_TOKEN), endpoint, len(lines), folder)
        except SyslogNgUnavailable as error:
            missing_tool(str(error))
        return endpoint.documents()


def flattened(
    document: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in document.items():
        if isinstance(value, dict):
            yield from flattened(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def forwarder_document(line: bytes) -> dict[str, Any]:
    return to_ecs(make_record(LogType.ACCESS_REQUESTS, ACCOUNT, orjson.loads(line)))


def check_same_job(line: bytes, peer: dict[str, Any]) -> None:
    ours = dict(flattened(forwarder_document(line)))
    theirs = dict(flattened(peer))
    assert theirs.keys() == ours.keys(), line
    for path, value in ours.items():
        if path not in OWN_VALUES and not (path == ("@timestamp",) and b'"created_at":null' in line):
            assert theirs[path] == value, (path, line)
    # A deterministic id per distinct record; the receipt time, in the forwarder's spelling.
    assert theirs["event", "id"] == hashlib.md5(line).hexdigest()
    created = theirs["event", "created"]
    assert created.endswith("Z")
    assert len(created) == len(ours["event", "created"])
    assert abs(instant(created) - datetime.now(UTC)) < timedelta(minutes=5)
    if b'"created_at":null' in line or b'"created_at"' not in line:
        # No event time: both fall back to when they read the record.
        assert theirs["@timestamp",] == created


@pytest.mark.parametrize("kind", ["splunk_hec", "elasticsearch"])
def test_the_fair_peer_maps_every_record_to_the_forwarders_ecs(
    kind: str, lines: list[bytes], tmp_path: Path
) -> None:
    documents = received(kind, lines, tmp_path)
    assert len(documents) == len(lines)
    by_id = {hashlib.md5(line).hexdigest(): line for line in lines}
    for document in documents:
        if kind == "splunk_hec":
            line = by_id[document["event"]["event"]["id"]]
            record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, orjson.loads(line))
            # HEC's time is the event's, to the microsecond, written as the forwarder writes it.
            if record.timestamp is not None:
                assert document["time"] == pytest.approx(record.timestamp.timestamp(), abs=1e-6)
            assert document["sourcetype"] == "cloudflare:access"
            assert document["source"] == f"cloudflare:{ACCOUNT}:access_requests"
            check_same_job(line, document["event"])
        else:
            line = by_id[document["_id"]]
            assert document["event"]["id"] == document["_id"]
            check_same_job(line, {key: value for key, value in document.items() if key != "_id"})


def test_on_the_edge_cases_the_peer_differs_only_where_documented(tmp_path: Path) -> None:
    lines = [line for line in EDGE_CASES.read_bytes().splitlines() if line.strip()]
    by_id = {hashlib.md5(line).hexdigest(): line for line in lines}
    differences: set[tuple[str, ...]] = set()
    for document in received("splunk_hec", lines, tmp_path):
        line = by_id[document["event"]["event"]["id"]]
        ours = dict(flattened(forwarder_document(line)))
        theirs = dict(flattened(document["event"]))
        record = make_record(LogType.ACCESS_REQUESTS, ACCOUNT, orjson.loads(line))
        for path in ours.keys() | theirs.keys():
            # Without a readable time both fall back to when they read the record: not a difference.
            fallback = path == ("@timestamp",) and record.timestamp is None
            if path not in OWN_VALUES and not fallback and ours.get(path) != theirs.get(path):
                differences.add(path)
    assert differences == EDGE_CASE_DIFFERENCES
