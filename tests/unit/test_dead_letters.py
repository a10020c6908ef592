"""The dead-letter file: durable lines, a size cap with rotation, a loud count of what rotation deletes,
and permissions (whole records, personal data included) that do not depend on the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from forwarder.pipeline.dead_letters import DeadLetter, DeadLetters
from forwarder.records import LogType, make_record
from tests.support.files import permissions, permissive_umask  # noqa: F401 - the fixture

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


@pytest.mark.usefixtures("permissive_umask")
async def test_new_files_and_directories_are_owner_only_rotated_files_included(tmp_path: Path) -> None:
    path = tmp_path / "made" / "for" / "dlq.ndjson"
    letters = DeadLetters(path, max_bytes=4096, backups=2)
    for index in range(60):
        await letters.add_many([letter(index)])
    assert [file.name for file in letters.files()] == ["dlq.ndjson", "dlq.ndjson.1", "dlq.ndjson.2"]
    assert [permissions(file) for file in letters.files()] == [0o600, 0o600, 0o600]
    assert permissions(tmp_path / "made" / "for") == 0o700
    assert permissions(tmp_path / "made") == 0o700


@pytest.mark.usefixtures("permissive_umask")
async def test_mode_0640_lets_the_group_read_them(tmp_path: Path) -> None:
    path = tmp_path / "made" / "dlq.ndjson"
    letters = DeadLetters(path, max_bytes=4096, backups=1, mode=0o640)
    for index in range(30):
        await letters.add_many([letter(index)])
    assert [permissions(file) for file in letters.files()] == [0o640, 0o640]
    assert permissions(tmp_path / "made") == 0o750


async def test_a_narrowing_umask_does_not_take_away_the_group_read_asked_for(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        letters = DeadLetters(tmp_path / "made" / "dlq.ndjson", mode=0o640)
        await letters.add_many([letter(1)])
    finally:
        os.umask(previous)
    assert permissions(tmp_path / "made" / "dlq.ndjson") == 0o640
    assert permissions(tmp_path / "made") == 0o750


@pytest.mark.usefixtures("permissive_umask")
async def test_an_existing_directory_is_left_as_it_is(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    await DeadLetters(tmp_path / "dlq.ndjson").add_many([letter(1)])
    assert permissions(tmp_path) == 0o755
    assert permissions(tmp_path / "dlq.ndjson") == 0o600


@pytest.mark.usefixtures("permissive_umask")
async def test_existing_wider_files_are_tightened_with_a_warning_rotated_ones_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Left by a version that did not set permissions: 0644 by the usual umask.
    path = tmp_path / "dlq.ndjson"
    for file in (path, tmp_path / "dlq.ndjson.1"):
        file.write_bytes(b'{"old":true}\n')
        file.chmod(0o644)
    letters = DeadLetters(path)
    assert permissions(tmp_path / "dlq.ndjson.1") == 0o600  # never opened again: fixed now
    assert permissions(path) == 0o600
    warnings = [
        record for record in caplog.records if "permissions of an existing file" in record.getMessage()
    ]
    assert sorted(record.__dict__["path"] for record in warnings) == [str(path), f"{path}.1"]
    assert all(record.levelname == "WARNING" for record in warnings)
    assert all(record.__dict__["was"] == "0644" for record in warnings)
    assert all(record.__dict__["setting"] == "FORWARDER_DEAD_LETTER_MODE" for record in warnings)
    await letters.add_many([letter(1)])
    assert path.read_bytes().splitlines()[0] == b'{"old":true}'
    assert len(path.read_bytes().splitlines()) == 2


@pytest.mark.usefixtures("permissive_umask")
async def test_a_file_widened_while_running_is_tightened_at_the_next_letter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dlq.ndjson"
    letters = DeadLetters(path)
    await letters.add_many([letter(1)])
    path.chmod(0o666)
    await letters.add_many([letter(2)])
    assert permissions(path) == 0o600
    assert any(record.__dict__.get("was") == "0666" for record in caplog.records)


async def test_the_directory_is_synced_when_a_file_is_created_or_rotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[os.stat_result] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor))
        real_fsync(descriptor)

    def directory_syncs() -> int:
        here = tmp_path.stat()
        return sum(
            stat.S_ISDIR(status.st_mode) and (status.st_dev, status.st_ino) == (here.st_dev, here.st_ino)
            for status in synced
        )

    monkeypatch.setattr(os, "fsync", recording_fsync)
    letters = DeadLetters(tmp_path / "dlq.ndjson", max_bytes=4096, backups=1)
    await letters.add_many([letter(0)])
    assert directory_syncs() == 1  # created
    await letters.add_many([letter(1)])
    assert directory_syncs() == 1  # appended to: no new name
    while len(letters.files()) < 2:
        await letters.add_many([letter(2)])
    assert directory_syncs() == 2  # rotated, and a new file created


def test_a_mode_that_would_lock_the_forwarder_out_or_is_not_a_mode_is_refused(tmp_path: Path) -> None:
    for mode in (0o400, 0o4600, 0o040):
        with pytest.raises(ValueError, match="owner read and write"):
            DeadLetters(tmp_path / "dlq.ndjson", mode=mode)


def test_the_mode_comes_from_forwarder_dead_letter_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forwarder.settings import Settings

    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-0123456789")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("FORWARDER_DEAD_LETTER_PATH", str(tmp_path / "letters.ndjson"))
    assert DeadLetters.from_settings(Settings()).mode == 0o600
    monkeypatch.setenv("FORWARDER_DEAD_LETTER_MODE", "0640")
    assert DeadLetters.from_settings(Settings()).mode == 0o640
