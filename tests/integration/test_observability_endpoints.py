"""/healthz, /readyz, /status and /metrics over real HTTP, while the real forwarder runs."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Config, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings
from forwarder.telemetry.exporters import telemetry_from_environment
from forwarder.telemetry.health import HealthServer, serve_endpoints
from forwarder.telemetry.status import StatusBoard
from tests.support.forwarder_runs import ACCOUNT, NOW, settings, simulator_config

METRIC_NAMES = (
    "forwarder_events_fetched_total",
    "forwarder_events_duplicates_total",
    "forwarder_events_mapped_total",
    "forwarder_events_sent_total",
    "forwarder_stream_windows_total",
    "forwarder_cloudflare_request_duration_seconds",
    "forwarder_sink_request_duration_seconds",
    "forwarder_sink_batch_event_count",
    "forwarder_sink_batch_size_bytes",
    "forwarder_stream_lag_seconds",
    "forwarder_stream_checkpoint_age_seconds",
    "forwarder_sink_inflight_events",
    "forwarder_sink_inflight_size_bytes",
    "forwarder_sink_state",
    "forwarder_cloudflare_rate_limit_remaining",
    "forwarder_cloudflare_last_success_age_seconds",
)


@dataclass
class Answer:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.text)


async def get(base: str, path: str, **headers: str) -> Answer:
    async with aiohttp.ClientSession() as session, session.get(base + path, headers=headers) as response:
        return Answer(response.status, response.headers.get("Content-Type", ""), await response.text())


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for the forwarder to reach a state; the deadline only stops a hung test."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    tmp_path: Path, *, sink_path: Path | None = None, **overrides: Any
) -> AsyncIterator[tuple[Forwarder, str, asyncio.Task[None]]]:
    """The forwarder in `run` mode against the simulator, its endpoints on a free port."""
    simulator = Simulator(simulator_config(hours=1))
    base_url = await simulator.start()
    output = sink_path if sink_path is not None else tmp_path / "events.ndjson"
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(output), format="raw", fsync=False))
    telemetry = telemetry_from_environment(prometheus=True, environ={})
    forwarder = Forwarder.build(
        Config(settings(base_url, tmp_path, hours=1, poll_interval=0.2, **overrides), (sink,)),
        Parts(checkpoints=MemoryCheckpointStore(), now=NOW, telemetry=telemetry),
    )
    stop = asyncio.Event()
    try:
        async with serve_endpoints(forwarder, telemetry, host="127.0.0.1", port=0) as server:
            assert server is not None
            task = asyncio.create_task(forwarder.run(until_caught_up=False, stop=stop))
            try:
                yield forwarder, server.url, task
            finally:
                stop.set()
                await task
    finally:
        telemetry.shutdown()
        await simulator.stop()


def caught_up(forwarder: Forwarder) -> bool:
    return all(
        stream.progress.caught_up and stream.progress.committed == stream.progress.position
        for stream in forwarder.streams
    ) and all(worker.idle for worker in forwarder.pipeline.workers)


def progress_of(forwarder: Forwarder) -> dict[str, tuple[datetime | None, int]]:
    return {stream.key: (stream.progress.committed, stream.progress.events) for stream in forwarder.streams}


async def test_a_forwarder_that_keeps_up_is_healthy_ready_and_reports_everything(tmp_path: Path) -> None:
    async with running(tmp_path) as (forwarder, base, _):
        await eventually(lambda: caught_up(forwarder), "every stream caught up and committed")
        health = await get(base, "/healthz")
        ready = await get(base, "/readyz")
        # The forwarder keeps polling: a window may be committed while /status is being asked.
        before = {
            stream.key: (stream.progress.committed, stream.progress.events) for stream in forwarder.streams
        }
        status = await get(base, "/status")
        after = {
            stream.key: (stream.progress.committed, stream.progress.events) for stream in forwarder.streams
        }
        metrics = await get(base, "/metrics")
        snapshot = status.json()
        streams = {stream.key: stream for stream in forwarder.streams}
        delivered = forwarder.pipeline.status["file"].delivered
    assert (health.status, health.text) == (200, "ok\n")
    assert (ready.status, ready.text) == (200, "ready\n")
    assert status.content_type == "application/json"
    assert snapshot["ready"] is True
    assert snapshot["problems"] == []
    assert {item["stream"] for item in snapshot["streams"]} == set(streams)
    for item in snapshot["streams"]:
        (committed_before, events_before), (committed_after, events_after) = (
            before[item["stream"]],
            after[item["stream"]],
        )
        assert committed_before is not None
        assert committed_after is not None
        assert committed_before <= datetime.fromisoformat(item["checkpoint"]) <= committed_after
        assert events_before <= item["events"] <= events_after
        assert item["checkpoint_age_seconds"] >= 180
        assert item["lag_seconds"] >= 180
        assert item["caught_up"] is True
    (sink,) = snapshot["sinks"]
    assert sink["name"] == "file"
    assert sink["state"] == "ok"
    assert sink["delivered"] == delivered > 0
    assert sink["inflight_events"] == 0
    assert snapshot["cloudflare"]["rate_limit_remaining"] > 0
    assert metrics.status == 200
    assert metrics.content_type.startswith("text/plain")
    for name in METRIC_NAMES:
        assert f"\n{name}" in metrics.text, name
    assert "# TYPE forwarder_events_sent_total counter" in metrics.text
    assert "# TYPE forwarder_stream_lag_seconds gauge" in metrics.text
    assert "# TYPE forwarder_cloudflare_request_duration_seconds histogram" in metrics.text
    assert (
        f'forwarder_events_sent_total{{log_type="access_requests",sink="file",stream="{ACCOUNT}/access_requests"}}'
        in (metrics.text)
    )
    assert 'forwarder_sink_state{sink="file",state="ok"} 1.0' in metrics.text
    assert 'service_name="cloudflare-siem-forwarder"' in metrics.text


async def test_metrics_in_openmetrics_format_when_asked(tmp_path: Path) -> None:
    async with running(tmp_path) as (forwarder, base, _):
        await eventually(lambda: caught_up(forwarder), "every stream caught up and committed")
        metrics = await get(base, "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    assert metrics.content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert "# TYPE forwarder_events_sent counter" in metrics.text
    assert metrics.text.endswith("# EOF\n")


async def test_a_sink_in_configuration_error_makes_readyz_503_with_the_reason(tmp_path: Path) -> None:
    # A directory where the file sink wants a file: it cannot open it, and says which variable.
    # Its events can never be delivered: a short grace period ends the run at once.
    async with running(tmp_path, sink_path=tmp_path, shutdown_grace=0.01) as (forwarder, base, _):
        await eventually(lambda: forwarder.client.last_success is not None, "Cloudflare answered")
        await eventually(lambda: forwarder.pipeline.workers[0].stopped, "the sink stopped")
        ready = await get(base, "/readyz")
        health = await get(base, "/healthz")
        status = (await get(base, "/status")).json()
        metrics = await get(base, "/metrics")
    assert ready.status == 503
    lines = ready.text.splitlines()
    assert lines[0] == "not ready:"
    assert len(lines) == 2
    assert lines[1].startswith("- sink file: configuration error: FORWARDER_FILE__PATH: cannot open")
    assert health.status == 200
    assert status["ready"] is False
    assert status["problems"] == [lines[1].removeprefix("- ")]
    assert status["sinks"][0]["state"] == "config_error"
    assert "FORWARDER_FILE__PATH" in status["sinks"][0]["last_error"]
    assert 'forwarder_sink_state{sink="file",state="config_error"} 1.0' in metrics.text


async def test_before_the_first_answer_readyz_says_what_it_waits_for(tmp_path: Path) -> None:
    simulator = Simulator(simulator_config(hours=1))
    base_url = await simulator.start()
    sink = SinkConfig(FileSink, FileSinkSettings(path=str(tmp_path / "events.ndjson")))
    telemetry = telemetry_from_environment(prometheus=True, environ={})
    forwarder = Forwarder.build(
        Config(settings(base_url, tmp_path), (sink,)),
        Parts(checkpoints=MemoryCheckpointStore(), telemetry=telemetry),
    )
    try:
        async with serve_endpoints(forwarder, telemetry, host="127.0.0.1", port=0) as server:
            assert server is not None
            ready = await get(server.url, "/readyz")
            health = await get(server.url, "/healthz")
    finally:
        await forwarder.client.close()
        telemetry.shutdown()
        await simulator.stop()
    assert ready.status == 503
    assert ready.text == "not ready:\n- Cloudflare has not answered yet\n- sink file: starting\n"
    assert health.status == 200


class Clock:
    value = 0.0

    def __call__(self) -> float:
        return self.value


async def test_healthz_answers_503_when_the_event_loop_stops_beating(tmp_path: Path) -> None:
    forwarder = Forwarder.build(
        Config(settings("http://127.0.0.1:9", tmp_path), ()),
        Parts(sinks=[], checkpoints=MemoryCheckpointStore()),
    )
    clock = Clock()
    board = StatusBoard(forwarder, monotonic=clock)
    server = HealthServer(board, host="127.0.0.1", port=0)
    await server.start()
    try:
        alive = await get(server.url, "/healthz")
        clock.value += 45
        stuck = await get(server.url, "/healthz")
        metrics = await get(server.url, "/metrics")
    finally:
        await server.stop()
        await forwarder.client.close()
    assert alive.status == 200
    assert (stuck.status, stuck.text) == (503, "event loop stuck: no heartbeat for 45 s (more than 30 s)\n")
    # No Prometheus reader in this process: say so instead of an empty page.
    assert metrics.status == 404


async def test_a_taken_port_is_logged_and_forwarding_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forwarder = Forwarder.build(
        Config(settings("http://127.0.0.1:9", tmp_path), ()),
        Parts(sinks=[], checkpoints=MemoryCheckpointStore()),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with serve_endpoints(forwarder, forwarder.telemetry, host="127.0.0.1", port=port) as server:
            assert server is None
    await forwarder.client.close()
    (line,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert line.getMessage() == "cannot serve the health and metrics endpoints; forwarding without them"
    assert line.__dict__["address"] == f"127.0.0.1:{port}"
