"""SIGTERM stops cleanly with what was delivered committed; dead letters can be sent again."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from pathlib import Path

import orjson

from fakes.cloudflare.background import SimulatorThread
from fakes.cloudflare.faults import Fault
from forwarder.pipeline.dead_letters import DeadLetter, DeadLetters
from forwarder.records import LogType, make_record
from tests.support.forwarder_runs import (
    ACCOUNT,
    LOG_TYPES,
    NOW,
    backfill_env,
    cli,
    cli_env,
    expected_ids,
    output_ids,
    settings,
    simulator_config,
)


def test_sigterm_delivers_in_flight_commits_and_exits_0(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=12)) as simulator:
        simulator.add_fault(Fault.slow(0.03, count=None))
        env = backfill_env(simulator.base_url, tmp_path, 12)
        process = cli(env, "run")
        checkpoints = tmp_path / "checkpoints.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not checkpoints.exists():
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors.decode()
        assert b"stopping: reading ended" in output
        committed = orjson.loads(checkpoints.read_bytes())
        records = [(t, r) for t in LOG_TYPES for r in simulator.records(ACCOUNT, t.value)]
    shipped = output_ids(tmp_path / "events.ndjson")
    # Everything before each committed position was delivered before the process exited.
    config = settings("http://unused", tmp_path)
    for log_type in LOG_TYPES:
        position = committed[f"{ACCOUNT}/{log_type.value}"]
        held = iter([(t, r) for t, r in records if t is log_type])
        missing = expected_ids(held, datetime.fromisoformat(position), config) - set(shipped)
        assert not missing


def test_replay_dlq_sends_dead_letters_again_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "dead-letters.ndjson"
    records = [
        make_record(LogType.ACCESS_REQUESTS, ACCOUNT, {"ray_id": f"{i:016x}", "created_at": NOW.isoformat()})
        for i in range(5)
    ]

    async def write() -> None:
        letters = DeadLetters(path)
        await letters.add_many(DeadLetter(record, "file", "disk was full") for record in records[:4])
        await letters.add_many([DeadLetter(records[4], "splunk_hec", "Incorrect index (code 7)")])

    asyncio.run(write())
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
    env = cli_env("http://127.0.0.1:9/client/v4", tmp_path)
    process = cli(env, "replay-dlq")
    output, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    assert "file: 4 events sent again" in output.decode()
    assert "2 lines kept in the dead letters (1 unreadable" in output.decode()
    assert sorted(output_ids(tmp_path / "events.ndjson")) == sorted(record.event_id for record in records[:4])
    # The splunk_hec letter and the unreadable line stay, as they were; nothing is left mid-replay.
    lines = path.read_bytes().splitlines()
    assert lines[-1] == b"{not json"
    assert [orjson.loads(line)["event_id"] for line in lines[:-1]] == [records[4].event_id]
    assert not list(tmp_path.glob("*.replaying"))
