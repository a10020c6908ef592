"""The dead-letter file: durable lines, a size cap with rotation, a loud count of what rotation deletes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from forwarder.dead_letters import DeadLetter, DeadLetters
from forwarder.records import LogType, make_record

ACCOUNT = "0123456789abcdef0123456789abcdef"


def letter(index: int) -> DeadLetter:
    record = make_record(LogType.SCIM_UPDATES, ACCOUNT, {"cf_resource_id": f"r{index}", "padding": "x" * 200})
    return DeadLetter(record, "splunk_hec", f"Invalid data format (code 6) #{index}", {"doc": index})


async def test_each_line_says_what_why_and_where(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dlq.ndjson")
    await letters.add_many([letter(1)])
    [line] = [orjson.loads(raw) for raw in (tmp_path / "dlq.ndjson").read_bytes().splitlines()]
    assert line["sink"] == "splunk_hec"
    assert line["reason"] == "Invalid data format (code 6) #1"
    assert line["record"] == {"cf_resource_id": "r1", "padding": "x" * 200}
    assert line["document"] == {"doc": 1}
    assert line["log_type"] == "scim_updates"
    assert line["account_id"] == ACCOUNT
    assert {"time", "event_id"} <= set(line)


async def test_rotation_keeps_the_newest_and_counts_what_it_deletes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dlq.ndjson"
    letters = DeadLetters(path, max_bytes=4096, backups=2)
    for index in range(60):
        await letters.add_many([letter(index)])
    assert [file.name for file in letters.files()] == ["dlq.ndjson", "dlq.ndjson.1", "dlq.ndjson.2"]
    kept = sum(len(file.read_bytes().splitlines()) for file in letters.files())
    assert kept + letters.discarded == 60
    assert letters.discarded > 0
    assert all(file.stat().st_size <= 4096 for file in letters.files())
    deleted = [record for record in caplog.records if "deleting the oldest" in record.getMessage()]
    assert sum(record.__dict__["events"] for record in deleted) == letters.discarded
    newest = [orjson.loads(raw)["reason"] for raw in path.read_bytes().splitlines()]
    assert newest[-1].endswith("#59")
