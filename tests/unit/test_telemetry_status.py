"""Liveness, readiness, /status and the gauges read from the forwarder's own state; exporters from OTEL_*."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION

from forwarder import __version__
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.coordination.leader import LeaderElector, LeaseTimings
from forwarder.settings import Config, Settings
from forwarder.telemetry import Telemetry
from forwarder.telemetry.exporters import otlp_enabled, resource, telemetry_from_environment
from forwarder.telemetry.status import StatusBoard
from tests.support.memory_sink import MemorySink
from tests.support.telemetry import Recorded
from tests.unit.kubernetes_support import client, fake_api

ACCOUNT = "0123456789abcdef0123456789abcdef"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def forwarder(telemetry: Telemetry | None = None, **overrides: Any) -> Forwarder:
    options: dict[str, Any] = {
        "cloudflare_api_token": "t",
        "cloudflare_api_base_url": "http://127.0.0.1:9",
        "account_ids": [ACCOUNT],
        "poll_interval": 60,
        "request_timeout": 30,
        "ready_cloudflare_max_age": 300,
    } | overrides
    return Forwarder.build(
        Config(Settings(**options), ()),
        Parts(sinks=[MemorySink()], checkpoints=MemoryCheckpointStore(), now=NOW, telemetry=telemetry),
    )


def board(built: Forwarder, clock: Clock) -> StatusBoard:
    return StatusBoard(built, monotonic=clock, now=lambda: NOW)


def test_a_fresh_forwarder_is_alive_but_not_ready_and_says_why() -> None:
    clock = Clock()
    built = forwarder()
    status = board(built, clock)
    assert status.liveness() == []
    assert status.readiness() == ["Cloudflare has not answered yet", "sink memory: starting"]


def test_ready_once_cloudflare_answered_and_every_sink_is_open() -> None:
    clock = Clock()
    built = forwarder()
    status = board(built, clock)
    built.client.last_request = built.client.last_success = clock.value
    built.pipeline.workers[0].status.state = "retrying"  # a transient failure is not a readiness problem
    assert status.readiness() == []


def test_a_sink_with_a_configuration_error_makes_it_unready_with_the_error() -> None:
    clock = Clock()
    built = forwarder()
    built.client.last_request = built.client.last_success = clock.value
    worker = built.pipeline.workers[0]
    worker.status.state = "config_error"
    worker.status.last_error = "FORWARDER_MEMORY__TOKEN: rejected by the receiver"
    assert board(built, clock).readiness() == [
        "sink memory: configuration error: FORWARDER_MEMORY__TOKEN: rejected by the receiver"
    ]


def test_cloudflare_silent_while_asked_is_a_problem_but_not_while_streams_are_paused() -> None:
    clock = Clock()
    built = forwarder()
    status = board(built, clock)
    client = built.client
    client.last_success = clock.value
    client.last_request = clock.value
    built.pipeline.workers[0].status.state = "ok"
    clock.value += 10_000
    status.beat()
    # Nothing asked since the last answer (a full sink paused every stream): nothing wrong with Cloudflare.
    assert status.readiness() == []
    client.last_request = clock.value - 1
    client.last_error = "Cloudflare rate limit reached for account x (HTTP 429)"
    assert status.readiness() == [
        "Cloudflare has not answered for 10000 s (more than 300 s) "
        "(last error: Cloudflare rate limit reached for account x (HTTP 429))"
    ]


def test_the_cloudflare_silence_allowed_is_never_shorter_than_two_polls() -> None:
    status = board(forwarder(poll_interval=900, request_timeout=30, ready_cloudflare_max_age=60), Clock())
    assert status.cloudflare_max_age == 1830


def test_a_loop_without_heartbeat_is_not_alive() -> None:
    clock = Clock()
    built = forwarder()
    built.client.last_request = built.client.last_success = clock.value
    status = board(built, clock)
    status.beat()
    clock.value += 29
    assert status.liveness() == []
    clock.value += 2
    assert status.liveness() == ["event loop stuck: no heartbeat for 31 s (more than 30 s)"]
    assert status.readiness()[0].startswith("event loop stuck")


def test_the_status_snapshot_has_every_stream_and_sink() -> None:
    clock = Clock()
    built = forwarder()
    built.client.last_request = built.client.last_success = clock.value - 2
    built.client.server_remaining = 1100
    stream = built.streams[0]
    stream.progress.committed = NOW - timedelta(minutes=3)
    stream.progress.position = NOW - timedelta(minutes=2)
    stream.progress.newest_delivered = NOW - timedelta(minutes=4)
    built.pipeline.workers[0].status.state = "ok"
    built.pipeline.workers[0].status.delivered = 42
    snapshot = board(built, clock).snapshot()
    assert snapshot["ready"] is True
    assert snapshot["version"] == __version__
    assert snapshot["leadership"] is None
    assert snapshot["cloudflare"] == {
        "last_success_seconds_ago": 2.0,
        "last_error": None,
        "rate_limit_remaining": 1100,
    }
    assert [item["stream"] for item in snapshot["streams"]] == [
        f"{ACCOUNT}/access_requests",
        f"{ACCOUNT}/scim_updates",
    ]
    first = snapshot["streams"][0]
    assert first["checkpoint"] == "2025-03-01T11:57:00+00:00"
    assert first["position"] == "2025-03-01T11:58:00+00:00"
    assert first["checkpoint_age_seconds"] == 180.0
    assert first["lag_seconds"] == 240.0
    assert snapshot["streams"][1]["lag_seconds"] is None
    (sink,) = snapshot["sinks"]
    assert sink["name"] == "memory"
    assert sink["state"] == "ok"
    assert sink["delivered"] == 42
    assert sink["last_error"] == ""


def test_the_gauges_read_what_the_streams_sinks_and_client_registered() -> None:
    recorded = Recorded()
    built = forwarder(recorded.telemetry)
    built.client.server_remaining = 1100
    access, _ = built.streams  # the SCIM stream has no checkpoint yet: no age
    access.progress.committed = datetime.now(UTC) - timedelta(hours=1)
    built.pipeline.workers[0].status.inflight_events = 12
    built.pipeline.workers[0].status.state = "retrying"
    assert recorded.points("forwarder.cloudflare.rate_limit.remaining") == [({}, 1100)]
    (age,) = recorded.points("forwarder.stream.checkpoint.age")
    assert age[0] == {"stream": access.key, "log_type": "access_requests"}
    assert 3600 <= age[1] < 3700
    assert recorded.points("forwarder.sink.inflight.events") == [({"sink": "memory"}, 12)]
    states = {attributes["state"]: value for attributes, value in recorded.points("forwarder.sink.state")}
    assert states == {"starting": 0, "ok": 0, "retrying": 1, "config_error": 0}


def test_a_stream_restarted_for_a_new_term_keeps_its_gauges() -> None:
    recorded = Recorded()
    built = forwarder(recorded.telemetry, log_types=["access_requests"])
    (stream,) = built.streams
    stream.progress.committed = datetime.now(UTC) - timedelta(hours=1)
    stream.restart(stream.outlet)
    # A new term starts a new progress record; the gauge reads the stream's current one.
    stream.progress.committed = datetime.now(UTC) - timedelta(minutes=1)
    (age,) = recorded.points("forwarder.stream.checkpoint.age")
    assert 60 <= age[1] < 160


def test_the_gauges_read_the_forwarder_built_last_on_the_same_providers() -> None:
    """The SDK keeps the callbacks of the first gauge of a name: a second set of instruments
    on the same providers would never be observed."""
    recorded = Recorded()
    first = forwarder(recorded.telemetry)
    second = forwarder(recorded.telemetry)
    first.client.server_remaining = 1
    second.client.server_remaining = 2
    second.pipeline.workers[0].status.inflight_events = 5
    assert recorded.points("forwarder.cloudflare.rate_limit.remaining") == [({}, 2)]
    assert recorded.points("forwarder.sink.inflight.events") == [({"sink": "memory"}, 5)]


@pytest.mark.parametrize(
    ("environ", "metrics", "traces"),
    [
        ({}, False, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, False, True),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4318/v1/metrics"}, True, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, True, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False, False),
    ],
)
def test_otlp_is_exported_only_when_an_endpoint_is_set(
    environ: dict[str, str], metrics: bool, traces: bool
) -> None:
    assert otlp_enabled("METRICS", environ) is metrics
    assert otlp_enabled("TRACES", environ) is traces


def test_the_service_name_comes_from_otel_variables_or_defaults_to_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert resource().attributes[SERVICE_NAME] == "cloudflare-siem-forwarder"
    assert resource().attributes[SERVICE_VERSION] == __version__
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,deployment.environment=prod")
    assert resource().attributes[SERVICE_NAME] == "from-attributes"
    assert resource().attributes["deployment.environment"] == "prod"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "cf-forwarder-eu")
    assert resource().attributes[SERVICE_NAME] == "cf-forwarder-eu"


def test_without_prometheus_there_is_no_registry_and_spans_still_get_ids() -> None:
    telemetry = telemetry_from_environment(prometheus=False, environ={})
    try:
        assert telemetry.prometheus_registry is None
        with telemetry.tracer.start_as_current_span("poll window") as span:
            assert span.get_span_context().is_valid
    finally:
        telemetry.shutdown()


async def test_a_standby_replica_is_ready_and_says_it_is_not_leading(tmp_path: Path) -> None:
    """A standby waits to take over: that is its job, so it is ready; /status says it reads nothing."""
    clock = Clock()
    async with fake_api() as fake:
        api = client(fake, tmp_path)
        elector = LeaderElector(api, "forwarder-lease", "pod-0-abc", LeaseTimings(15, 10, 2))
        built = forwarder()
        built.leadership = elector
        built.client.last_request = built.client.last_success = clock.value - 2
        for worker in built.pipeline.workers:
            worker.status.state = "ok"
        snapshot = board(built, clock).snapshot()
        await api.close()
    assert snapshot["ready"] is True
    assert snapshot["leadership"] == {"lease": "forwarder-lease", "identity": "pod-0-abc", "leading": False}
