"""Metrics and spans after scripted runs of the real forwarder against the Cloudflare simulator.

The numbers are checked against what the forwarder and the simulator know independently: the
events in the output file, the requests the simulator answered, each stream's progress.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.cloudflare.faults import Fault
from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.logs import configure
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.forwarder_runs import ACCOUNT, NOW, settings, simulator_config
from tests.support.telemetry import Recorded

ACCESS = f"{ACCOUNT}/access_requests"
SCIM = f"{ACCOUNT}/scim_updates"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def run_once(
    simulator: Simulator, tmp_path: Path, recorded: Recorded, **overrides: Any
) -> tuple[Forwarder, Path]:
    base_url = await simulator.start()
    config = settings(base_url, tmp_path, **overrides)
    output = tmp_path / "events.ndjson"
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(output), format="raw", fsync=False))
    forwarder = Forwarder.build(
        Config(config, (sink,)),
        Parts(checkpoints=MemoryCheckpointStore(), now=NOW, telemetry=recorded.telemetry),
    )
    try:
        await forwarder.run(until_caught_up=True)
    finally:
        await simulator.stop()
    return forwarder, output


def written_by_stream(output: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for line in output.read_bytes().splitlines():
        document = orjson.loads(line)
        found[f"{ACCOUNT}/{document['_forwarder']['log_type']}"] += 1
    return found


async def test_a_backfill_counts_every_event_from_fetch_to_sink(tmp_path: Path) -> None:
    recorded = Recorded()
    simulator = Simulator(simulator_config(hours=2))
    forwarder, output = await run_once(simulator, tmp_path, recorded, hours=2)
    written = written_by_stream(output)
    status = forwarder.pipeline.status["file"]
    for stream in forwarder.streams:
        key, log_type = stream.key, stream.log_type.value
        assert (
            recorded.total("forwarder.events.fetched", stream=key, log_type=log_type)
            == stream.progress.events
        )
        assert recorded.total("forwarder.events.duplicates", stream=key) == stream.progress.duplicates
        assert recorded.total("forwarder.events.mapped", stream=key, format="raw") == stream.progress.events
        assert recorded.total("forwarder.events.sent", sink="file", stream=key) == written[key]
        assert recorded.total("forwarder.stream.windows", stream=key) == stream.progress.windows
    assert written[ACCESS] > 500
    assert written[SCIM] > 100
    assert recorded.total("forwarder.sink.batch.event_count", sink="file") == status.batches
    assert (
        recorded.total("forwarder.events.rejected") == recorded.total("forwarder.events.dead_lettered") == 0
    )
    # Every request the simulator answered was timed, by operation and status code.
    answered = sum(simulator.stats.responses_by_status.values())
    assert recorded.total("forwarder.cloudflare.request.duration") == answered
    assert (
        recorded.total("forwarder.cloudflare.request.duration", **{"http.response.status_code": 200})
        == answered
    )
    assert recorded.total("forwarder.cloudflare.request.duration", operation="scim_updates") > 0
    assert recorded.total("forwarder.cloudflare.retries") == 0

    # The gauges, read from the forwarder's state after the run.
    lags = {attributes["stream"]: value for attributes, value in recorded.points("forwarder.stream.lag")}
    ages = {
        attributes["stream"]: value
        for attributes, value in recorded.points("forwarder.stream.checkpoint.age")
    }
    assert set(lags) == set(ages) == {ACCESS, SCIM}
    # Nothing newer than now minus the settle delay is read, so neither can be smaller.
    assert min(ages.values()) >= 180
    assert min(lags.values()) >= 180
    assert {
        attributes["sink"]: value for attributes, value in recorded.points("forwarder.sink.inflight.events")
    } == {"file": 0}
    states = {attributes["state"]: value for attributes, value in recorded.points("forwarder.sink.state")}
    assert states == {"starting": 0, "ok": 1, "retrying": 0, "config_error": 0}
    (remaining,) = recorded.points("forwarder.cloudflare.rate_limit.remaining")
    assert 0 < remaining[1] < 1200
    assert len(recorded.points("forwarder.cloudflare.last_success.age")) == 1


async def test_spans_per_poll_window_with_the_requests_inside_them(tmp_path: Path) -> None:
    recorded = Recorded()
    simulator = Simulator(simulator_config(hours=1))
    forwarder, _ = await run_once(simulator, tmp_path, recorded, hours=1)
    windows = recorded.finished("poll window")
    by_stream: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for span in windows:
        assert span.attributes is not None
        by_stream[str(span.attributes["stream"])] += 1
        events[str(span.attributes["stream"])] += int(str(span.attributes["events"]))
        assert {"window.since", "window.until", "complete", "duplicates"} <= set(span.attributes)
    for stream in forwarder.streams:
        assert by_stream[stream.key] == stream.progress.windows
        assert events[stream.key] == stream.progress.events
    window_ids = {span.context.span_id for span in windows}
    requests = [span for span in recorded.spans.get_finished_spans() if span.name.startswith("GET ")]
    inside = [span for span in requests if span.parent is not None and span.parent.span_id in window_ids]
    assert {span.name for span in inside} == {"GET access_requests", "GET scim_updates"}
    assert all(span.attributes and span.attributes["http.response.status_code"] == 200 for span in requests)
    sends = recorded.finished("sink send")
    assert sum(int(str(span.attributes["events"])) for span in sends if span.attributes) == sum(
        stream.progress.events for stream in forwarder.streams
    )
    assert all(span.attributes and int(str(span.attributes["bytes"])) > 0 for span in sends)


async def test_cloudflare_retries_are_counted_by_reason_and_logged_with_their_trace_id(
    tmp_path: Path,
) -> None:
    recorded = Recorded()
    log = io.StringIO()
    configure("INFO", fmt="json", stream=log)
    simulator = Simulator(simulator_config(hours=1))
    simulator.faults.add(Fault.too_many_requests(count=3, retry_after=0.05))
    simulator.faults.add(Fault.server_error(status=503, count=2))
    simulator.faults.add(Fault.connection_reset(count=1))
    await run_once(simulator, tmp_path, recorded, hours=1)
    assert recorded.total("forwarder.cloudflare.retries", reason="rate_limited") == 3
    assert recorded.total("forwarder.cloudflare.retries", reason="server_error") == 2
    assert recorded.total("forwarder.cloudflare.retries", reason="connection") == 1
    assert recorded.total("forwarder.cloudflare.request.duration", **{"http.response.status_code": 429}) == 3
    assert recorded.total("forwarder.cloudflare.request.duration", **{"http.response.status_code": 503}) == 2
    assert (
        recorded.total("forwarder.cloudflare.request.duration", **{"error.type": "CloudflareRetryableError"})
        >= 3
    )

    lines = [orjson.loads(line) for line in log.getvalue().splitlines()]
    retries = [line for line in lines if line["message"] == "Cloudflare request failed, retrying"]
    assert len(retries) == 6
    trace_ids = {format(span.context.trace_id, "032x") for span in recorded.spans.get_finished_spans()}
    # Each retry line belongs to the probe or poll window it happened in.
    assert all(line.get("trace_id") in trace_ids for line in retries)
