"""Fault injection with the real CLI: every generated event is accounted for, whatever breaks.

Each test runs `cloudflare-siem-forwarder` as a subprocess against the Cloudflare simulator and
the sinks' fakes (and a real rsyslog), injects a fault, and then accounts for every event the
simulator holds before the final checkpoints: delivered or dead-lettered, never missing.
Duplicates are counted (Elasticsearch must hold each event exactly once); checkpoints are watched
while the forwarder runs and must never move backwards.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.faults import Fault
from fakes.elasticsearch import DelayFault, FakeElasticsearch, ItemFault, ResetFault, WholeFault
from fakes.splunk_hec import FakeHec
from fakes.splunk_hec_faults import Reset, busy, proxy_answer
from fakes.threaded import ThreadedFake
from forwarder.records import LogType
from tests.support.forwarder_runs import (
    ACCOUNT,
    NOW,
    backfill_env,
    cli,
    cli_env,
    dead_lettered,
    expected_ids,
    output_ids,
    settings,
    simulator_config,
)
from tests.support.hec import HEC_TOKEN, splunk_hec

HOURS = 6
# Every log type, the cursor-paged audit logs too, under the same faults.
EVERY_LOG_TYPE = ",".join(log_type.value for log_type in LogType)


class CheckpointWatch:
    """Reads the checkpoint file every few milliseconds while the forwarder runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                snapshot = orjson.loads(self.path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                snapshot = {}
            for stream, value in snapshot.items():
                history = self.seen.setdefault(stream, [])
                if not history or history[-1] != value:
                    history.append(value)
            time.sleep(0.01)

    def __enter__(self) -> CheckpointWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def assert_never_backwards(self) -> None:
        for stream, history in self.seen.items():
            moments = [datetime.fromisoformat(value) for value in history]
            assert moments == sorted(moments), f"{stream} moved backwards: {history}"

    def final(self) -> dict[str, datetime]:
        return {
            stream: datetime.fromisoformat(value)
            for stream, value in orjson.loads(self.path.read_bytes()).items()
        }


@contextmanager
def elasticsearch(**options: Any) -> Iterator[ThreadedFake[FakeElasticsearch]]:
    with ThreadedFake(FakeElasticsearch(**options), FakeElasticsearch.start, FakeElasticsearch.close) as fake:
        yield fake


def es_env(fake: ThreadedFake[FakeElasticsearch]) -> dict[str, str]:
    return {
        "FORWARDER_SINKS": "file,elasticsearch",
        "FORWARDER_ELASTICSEARCH__URL": fake.fake.url,
        "FORWARDER_ELASTICSEARCH__FORMAT": "raw",
        "FORWARDER_ELASTICSEARCH__BATCH_MAX_EVENTS": "200",
        "FORWARDER_ELASTICSEARCH__BATCH_MAX_AGE": "0.2",
        "FORWARDER_ELASTICSEARCH__MAX_INFLIGHT_EVENTS": "1000",
    }


def expected(simulator: SimulatorThread, positions: dict[str, datetime], tmp_path: Path) -> set[str]:
    config = settings("http://unused", tmp_path)
    found: set[str] = set()
    for log_type in LogType:
        held = ((log_type, record) for record in simulator.records(ACCOUNT, log_type.value))
        found |= expected_ids(held, positions[f"{ACCOUNT}/{log_type.value}"], config)
    return found


def run_once(env: dict[str, str], timeout: float = 180) -> str:
    process = cli(env, "once")
    _, errors = process.communicate(timeout=timeout)
    assert process.returncode == 0, errors.decode()[-4000:]
    return errors.decode()


def base_env(simulator: SimulatorThread, tmp_path: Path, **more: str) -> dict[str, str]:
    defaults = {"FORWARDER_PAGE_SIZE": "200", "FORWARDER_LOG_TYPES": EVERY_LOG_TYPE}
    return backfill_env(simulator.base_url, tmp_path, HOURS, **(defaults | more))


def run_watched(
    env: dict[str, str], simulator: SimulatorThread, tmp_path: Path
) -> tuple[CheckpointWatch, set[str]]:
    """`once` with its checkpoints watched; the watch (never backwards) and the ids that are due."""
    with CheckpointWatch(tmp_path / "checkpoints.json") as watch:
        run_once(env)
    watch.assert_never_backwards()
    return watch, expected(simulator, watch.final(), tmp_path)


def es_ids(fake: ThreadedFake[FakeElasticsearch]) -> Counter[str]:
    # Raw documents carry their event id; Elasticsearch holds it as `_id` too.
    return Counter(fake.call(lambda es: es.document_ids()))


def test_an_elasticsearch_outage_holds_only_the_checkpoint(tmp_path: Path) -> None:
    """ES refuses connections for a while: the file sink goes on, ES catches up, nothing lost or doubled."""
    with SimulatorThread(simulator_config(hours=HOURS)) as simulator, elasticsearch() as es:
        simulator.add_fault(Fault.slow(0.01, count=None))
        es.outage()
        env = base_env(simulator, tmp_path, **es_env(es))
        with CheckpointWatch(tmp_path / "checkpoints.json") as watch:
            process = cli(env, "once")
            # The file sink delivers meanwhile: its output grows while ES is down.
            deadline = time.monotonic() + 30
            events = tmp_path / "events.ndjson"
            while time.monotonic() < deadline and (not events.exists() or events.stat().st_size < 50_000):
                time.sleep(0.05)
            assert events.exists()
            assert events.stat().st_size >= 50_000
            assert not (tmp_path / "checkpoints.json").exists()  # nothing committed without ES
            time.sleep(2)
            es.recover()
            _, errors = process.communicate(timeout=180)
            assert process.returncode == 0, errors.decode()[-4000:]
        watch.assert_never_backwards()
        want = expected(simulator, watch.final(), tmp_path)
        in_es = es_ids(es)
    assert max(in_es.values()) == 1
    assert want <= set(in_es)
    assert want <= set(output_ids(tmp_path / "events.ndjson"))


def test_partial_bulk_failures_and_poison_events_are_all_accounted_for(tmp_path: Path) -> None:
    """429 and 503 items are retried, 400 items dead-lettered with the reason, resets and 5xx retried."""
    with SimulatorThread(simulator_config(hours=HOURS)) as simulator, elasticsearch() as es:
        es.call(
            lambda fake: fake.inject(
                # A mapping error is a property of the document: inject it on first sight
                # only (a stored document answers 409 on a replay, never 400).
                ItemFault(400, every=50, offset=7),
                ItemFault(429, every=3),
                ItemFault(503, every=5, offset=1),
                ItemFault(400, every=97, offset=3),
                WholeFault(503, retry_after="0"),
                DelayFault(0.5),
                ResetFault(after_write=True),
            )
        )
        env = base_env(simulator, tmp_path, **es_env(es))
        _, want = run_watched(env, simulator, tmp_path)
        in_es = es_ids(es)
    letters = dead_lettered(tmp_path / "dead-letters.ndjson")
    assert letters, "the 400 items were not dead-lettered"
    assert all("400" in reason or "mapper" in reason or "parsing" in reason for reason in letters.values())
    assert max(in_es.values()) == 1
    assert not set(letters) & set(in_es)
    assert want <= set(in_es) | set(letters)


def test_a_cloudflare_block_and_5xx_bursts_lose_nothing(tmp_path: Path) -> None:
    """A (time-scaled) 5-minute rate-limit block, then bursts of 5xx, resets and proxy pages."""
    with SimulatorThread(simulator_config(hours=HOURS)) as simulator, elasticsearch() as es:
        simulator.add_fault(Fault.block(3.0))
        simulator.add_fault(Fault.server_error(status=502, count=4))
        simulator.add_fault(Fault.connection_reset(count=3))
        simulator.add_fault(Fault.non_json(count=3, status=503))
        env = base_env(simulator, tmp_path, **es_env(es))
        _, want = run_watched(env, simulator, tmp_path)
        in_es = es_ids(es)
        answered_429 = simulator.stats().too_many_requests
    assert answered_429 >= 1
    assert max(in_es.values()) == 1
    assert want <= set(in_es)
    assert want <= set(output_ids(tmp_path / "events.ndjson"))


def test_kill_9_in_the_middle_of_a_batch_then_restart(tmp_path: Path) -> None:
    """SIGKILL while ES is slow mid-batch; after the restart ES holds each event exactly once."""
    with SimulatorThread(simulator_config(hours=HOURS)) as simulator, elasticsearch() as es:
        es.call(lambda fake: fake.inject(*(DelayFault(0.3) for _ in range(20))))
        env = base_env(simulator, tmp_path, **es_env(es))
        with CheckpointWatch(tmp_path / "checkpoints.json") as watch:
            first = cli(env, "once")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not watch.seen:
                time.sleep(0.02)
            assert first.poll() is None, "the run ended before it could be killed"
            first.send_signal(signal.SIGKILL)
            first.wait()
            before = es_ids(es)
            run_once(env)
        watch.assert_never_backwards()
        want = expected(simulator, watch.final(), tmp_path)
        in_es = es_ids(es)
    shipped = output_ids(tmp_path / "events.ndjson")
    assert sum(before.values()) > 0
    assert max(in_es.values()) == 1  # replays answered 409: exactly once
    assert want <= set(in_es)
    assert want <= set(shipped)
    # The file sink may repeat the uncommitted window, and only that.
    repeated = sum(count - 1 for count in shipped.values())
    assert repeated <= 2000


def test_a_slow_sink_pauses_the_source_without_losing_anything(tmp_path: Path) -> None:
    """A slow ES with a small in-flight window: the streams wait for it; memory stays bounded."""
    with SimulatorThread(simulator_config(hours=2)) as simulator, elasticsearch() as es:
        es.call(lambda fake: fake.inject(*(DelayFault(0.2) for _ in range(10))))
        env = base_env(
            simulator,
            tmp_path,
            **es_env(es) | {"FORWARDER_ELASTICSEARCH__MAX_INFLIGHT_EVENTS": "300"},
            FORWARDER_START_AT=(NOW - timedelta(hours=2)).isoformat(),
        )
        _, want = run_watched(env, simulator, tmp_path)
        in_es = es_ids(es)
    assert want <= set(in_es)
    assert max(in_es.values()) == 1


@pytest.mark.parametrize("receiver", ["rsyslog", "syslog-ng"])
def test_a_syslog_receiver_that_starts_late_gets_everything(tmp_path: Path, receiver: str) -> None:
    """The receiver is down when the forwarder starts (connections refused), then comes up on its port."""
    from tests.receivers.rsyslog import start_rsyslog
    from tests.receivers.syslog_ng import start_syslog_ng

    folder = tmp_path / receiver
    folder.mkdir()
    with SimulatorThread(simulator_config(hours=1)) as simulator:
        syslog = start_rsyslog(folder) if receiver == "rsyslog" else start_syslog_ng(folder)
        syslog.stop()
        env = cli_env(
            simulator.base_url,
            tmp_path,
            FORWARDER_START_AT=(NOW - timedelta(hours=1)).isoformat(),
            FORWARDER_SINKS="file,syslog",
            FORWARDER_SYSLOG__HOST="127.0.0.1",
            FORWARDER_SYSLOG__PORT=str(syslog.ports["tcp"]),
            FORWARDER_SYSLOG__TRANSPORT="tcp",
            FORWARDER_SYSLOG__FORMAT="raw",
            FORWARDER_LOG_TYPES=EVERY_LOG_TYPE,
        )
        with CheckpointWatch(tmp_path / "checkpoints.json") as watch:
            process = cli(env, "once")
            time.sleep(2)
            assert process.poll() is None
            assert not (tmp_path / "checkpoints.json").exists()
            syslog.restart()
            try:
                _, errors = process.communicate(timeout=120)
                assert process.returncode == 0, errors.decode()[-4000:]
                want = expected(simulator, watch.final(), tmp_path)
                received = syslog.wait_for(lambda message: "_forwarder" in message.msg, count=len(want))
            finally:
                syslog.stop()
        watch.assert_never_backwards()
    ids = Counter(
        orjson.loads(message.msg.lstrip("\ufeff"))["_forwarder"]["event_id"] for message in received
    )
    assert want <= set(ids)


def test_splunk_hec_busy_lost_acks_and_poison_events_are_all_accounted_for(tmp_path: Path) -> None:
    """HEC says busy, a proxy fails, acks get lost, a connection drops after indexing, and some
    events are refused (code 6): each is delivered (at least once) or dead-lettered, never lost."""
    with SimulatorThread(simulator_config(hours=HOURS)) as simulator, splunk_hec() as hec:

        def poisoned(envelope: Mapping[str, Any]) -> bool:
            # A few events Splunk refuses, chosen by their id: every time they are sent.
            event = envelope.get("event")
            return isinstance(event, dict) and str(event["_forwarder"]["event_id"]).endswith("00")

        def arm(fake: FakeHec) -> None:
            fake.refuse = poisoned
            fake.inject(busy(), proxy_answer(502, retry_after="0"), Reset(after_indexing=True), busy())
            fake.lose_next_acks(2)

        hec.call(arm)
        env = base_env(
            simulator,
            tmp_path,
            FORWARDER_SINKS="file,splunk_hec",
            FORWARDER_SPLUNK_HEC__URL=hec.fake.url,
            FORWARDER_SPLUNK_HEC__TOKEN=HEC_TOKEN,
            FORWARDER_SPLUNK_HEC__FORMAT="raw",
            FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS="true",
            FORWARDER_SPLUNK_HEC__ACK_TIMEOUT="2",
            FORWARDER_SPLUNK_HEC__ACK_POLL_INTERVAL="0.1",
            FORWARDER_SPLUNK_HEC__BATCH_MAX_AGE="0.2",
        )
        _, want = run_watched(env, simulator, tmp_path)
        indexed = hec.call(
            lambda fake: Counter(str(item.event["_forwarder"]["event_id"]) for item in fake.indexed)
        )
    letters = dead_lettered(tmp_path / "dead-letters.ndjson")
    assert letters, "no event was refused: the poison predicate matched nothing"
    assert all("code 6" in reason or "(6)" in reason for reason in letters.values()), set(letters.values())
    assert want <= set(indexed) | set(letters)
    assert not set(letters) & set(indexed)
