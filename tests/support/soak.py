"""The soak engine: the real forwarder for a chosen time under random faults, then every event
accounted for. `benchmarks/soak.py` runs it from the command line; `tests/integration/test_soak_short.py`
runs it briefly. It lives with the tests because it is made of their fakes (tests never import
benchmarks; benchmarks may import tests).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.config import DEFAULT_TOKEN, SimulatorConfig
from fakes.cloudflare.faults import Fault
from fakes.elasticsearch import DelayFault, FakeElasticsearch, ItemFault, ResetFault, WholeFault
from fakes.threaded import ThreadedFake
from forwarder.builders import scim_preparer
from forwarder.records import LogType, event_id, parse_timestamp
from forwarder.settings import Settings

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
# Longer than the simulator's latest late arrival (120 s): everything before a checkpoint is visible.
SETTLE = 125


@dataclass
class SoakReport:
    duration_s: float
    records_due: int = 0
    delivered_to_elasticsearch: int = 0
    dead_lettered: int = 0
    lost: int = 0
    elasticsearch_duplicates: int = 0
    file_duplicates: int = 0
    peak_rss_mb: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    exit_code: int | None = None


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def inject_faults(
    stop: threading.Event,
    rng: random.Random,
    simulator: SimulatorThread,
    elastic: ThreadedFake[FakeElasticsearch],
    report: SoakReport,
) -> None:
    while not stop.wait(rng.uniform(1.0, 4.0)):
        choice = rng.choice(
            [
                "cf_5xx",
                "cf_429",
                "cf_reset",
                "cf_proxy",
                "cf_block",
                "es_outage",
                "es_whole",
                "es_items",
                "es_poison",
                "es_slow",
                "es_reset",
            ]
        )
        report.faults[choice] += 1
        if choice == "cf_5xx":
            simulator.add_fault(
                Fault.server_error(status=rng.choice([500, 502, 503]), count=rng.randint(1, 5))
            )
        elif choice == "cf_429":
            simulator.add_fault(Fault.too_many_requests(count=rng.randint(1, 5), retry_after=1))
        elif choice == "cf_reset":
            simulator.add_fault(Fault.connection_reset(count=rng.randint(1, 3)))
        elif choice == "cf_proxy":
            simulator.add_fault(Fault.non_json(count=rng.randint(1, 3)))
        elif choice == "cf_block":
            simulator.add_fault(Fault.block(rng.uniform(1, 5)))
        elif choice == "es_outage":
            elastic.outage()
            stop.wait(rng.uniform(1, 8))
            elastic.recover()
        elif choice == "es_whole":
            elastic.call(lambda fake: fake.inject(WholeFault(rng.choice([429, 503]), retry_after="1")))
        elif choice == "es_items":
            elastic.call(lambda fake: fake.inject(ItemFault(rng.choice([429, 503]), every=rng.randint(2, 9))))
        elif choice == "es_poison":
            elastic.call(
                lambda fake: fake.inject(ItemFault(400, every=rng.randint(40, 200), offset=rng.randint(0, 9)))
            )
        elif choice == "es_slow":
            elastic.call(lambda fake: fake.inject(DelayFault(rng.uniform(0.2, 2.0))))
        else:
            elastic.call(lambda fake: fake.inject(ResetFault(after_write=rng.random() < 0.5)))


def soak(duration: float, rate: float, seed: int, folder: Path) -> SoakReport:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    report = SoakReport(duration_s=duration)
    config = SimulatorConfig(
        accounts=[ACCOUNT],
        seed=seed,
        start=now - timedelta(minutes=10),
        end=now + timedelta(seconds=duration + 600),
        access_per_minute=rate * 60 * 0.8,
        scim_per_minute=rate * 60 * 0.2,
    )
    elastic_fake = FakeElasticsearch(record_requests=False)
    with (
        SimulatorThread(config) as simulator,
        ThreadedFake(elastic_fake, FakeElasticsearch.start, FakeElasticsearch.close) as elastic,
    ):
        env = {
            "PATH": os.environ["PATH"],
            "CLOUDFLARE_API_TOKEN": DEFAULT_TOKEN,
            "CLOUDFLARE_API_BASE_URL": simulator.base_url,
            "FORWARDER_ACCOUNT_IDS": ACCOUNT,
            "FORWARDER_START_AT": (now - timedelta(minutes=10)).isoformat(),
            "FORWARDER_POLL_INTERVAL": "2",
            "FORWARDER_SETTLE_DELAY": str(SETTLE),
            "FORWARDER_OVERLAP": "30",
            "FORWARDER_RETRY_MAX_DELAY": "2",
            "FORWARDER_CHECKPOINT_PATH": str(folder / "checkpoints.json"),
            "FORWARDER_DEAD_LETTER_PATH": str(folder / "dead-letters.ndjson"),
            "FORWARDER_SINKS": "file,elasticsearch",
            "FORWARDER_FILE__PATH": str(folder / "events.ndjson"),
            "FORWARDER_FILE__FORMAT": "raw",
            "FORWARDER_ELASTICSEARCH__URL": elastic.fake.url,
            "FORWARDER_ELASTICSEARCH__FORMAT": "raw",
            "FORWARDER_LOG_LEVEL": "ERROR",
            "FORWARDER_HEALTH_PORT": "0",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "forwarder", "run"], env=env, stderr=(folder / "forwarder.log").open("wb")
        )
        stop = threading.Event()
        faults = threading.Thread(
            target=inject_faults, args=(stop, rng, simulator, elastic, report), daemon=True
        )
        faults.start()
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline and process.poll() is None:
            report.peak_rss_mb = max(report.peak_rss_mb, peak_rss_mb(process.pid))
            time.sleep(0.5)
        stop.set()
        faults.join()
        report.peak_rss_mb = max(report.peak_rss_mb, peak_rss_mb(process.pid))
        process.send_signal(signal.SIGTERM)
        report.exit_code = process.wait(timeout=120)
        committed = orjson.loads((folder / "checkpoints.json").read_bytes())
        in_es = Counter(elastic.call(lambda fake: fake.document_ids()))
        due = due_ids(simulator, committed)
    letters = set()
    letters_path = folder / "dead-letters.ndjson"
    if letters_path.exists():
        letters = {orjson.loads(line)["event_id"] for line in letters_path.read_bytes().splitlines()}
    in_file = Counter(
        orjson.loads(line)["_forwarder"]["event_id"]
        for line in (folder / "events.ndjson").read_bytes().splitlines()
    )
    report.records_due = len(due)
    report.delivered_to_elasticsearch = len(due & set(in_es))
    report.dead_lettered = len(due & letters)
    report.lost = len(due - set(in_es) - letters)
    report.elasticsearch_duplicates = sum(count - 1 for count in in_es.values())
    report.file_duplicates = sum(count - 1 for count in in_file.values())
    return report


def due_ids(simulator: SimulatorThread, committed: dict[str, str]) -> set[str]:
    """Every record that has to be shipped: those before its stream's final checkpoint."""
    prepare = scim_preparer(Settings(cloudflare_api_token="x", account_ids=[ACCOUNT]))
    found = set()
    for log_type in (LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES):
        position = datetime.fromisoformat(committed[f"{ACCOUNT}/{log_type.value}"])
        for record in simulator.records(ACCOUNT, log_type.value):
            moment = parse_timestamp(log_type.time_value(record))
            if moment is None or moment >= position:
                continue
            data: Any = (
                prepare(record) if prepare is not None and log_type is LogType.SCIM_UPDATES else record
            )
            found.add(event_id(log_type, ACCOUNT, data))
    return found
