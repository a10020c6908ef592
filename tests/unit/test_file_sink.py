"""The file sink's output holds personal data: its permissions do not depend on the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.files import permissions, permissive_umask  # noqa: F401 - the fixture

ACCOUNT = "0123456789abcdef0123456789abcdef"


def events(count: int) -> list[Event]:
    return [
        Event(make_record(LogType.SCIM_UPDATES, ACCOUNT, {"n": index}), f'{{"n":{index}}}'.encode())
        for index in range(count)
    ]


async def write(settings: FileSinkSettings, count: int = 2) -> None:
    sink = FileSink(settings)
    await sink.open()
    try:
        await sink.send(events(count))
    finally:
        await sink.close()


@pytest.mark.usefixtures("permissive_umask")
async def test_a_new_file_is_owner_only_and_so_are_the_directories_made_for_it(tmp_path: Path) -> None:
    output = tmp_path / "made" / "for" / "events.ndjson"
    await write(FileSinkSettings(path=str(output)))
    assert output.read_bytes() == b'{"n":0}\n{"n":1}\n'
    assert permissions(output) == 0o600
    assert permissions(tmp_path / "made" / "for") == 0o700
    assert permissions(tmp_path / "made") == 0o700


@pytest.mark.usefixtures("permissive_umask")
async def test_0640_lets_the_group_read_the_file_and_enter_the_directories(tmp_path: Path) -> None:
    output = tmp_path / "made" / "events.ndjson"
    await write(FileSinkSettings(path=str(output), mode="0640"))
    assert permissions(output) == 0o640
    assert permissions(tmp_path / "made") == 0o750


async def test_a_narrowing_umask_does_not_take_away_the_group_read_asked_for(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        output = tmp_path / "made" / "events.ndjson"
        await write(FileSinkSettings(path=str(output), mode="0640"))
    finally:
        os.umask(previous)
    assert permissions(output) == 0o640
    assert permissions(tmp_path / "made") == 0o750


@pytest.mark.usefixtures("permissive_umask")
async def test_an_existing_directory_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    await write(FileSinkSettings(path=str(shared / "events.ndjson")))
    assert permissions(shared) == 0o755
    assert permissions(shared / "events.ndjson") == 0o600


@pytest.mark.usefixtures("permissive_umask")
async def test_an_existing_wider_file_is_tightened_with_a_warning_and_appended_to(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "events.ndjson"
    output.write_bytes(b'{"old":true}\n')
    output.chmod(0o644)
    await write(FileSinkSettings(path=str(output)), count=1)
    assert permissions(output) == 0o600
    assert output.read_bytes() == b'{"old":true}\n{"n":0}\n'
    [warning] = [
        record for record in caplog.records if "permissions of an existing file" in record.getMessage()
    ]
    assert warning.levelname == "WARNING"
    assert (warning.__dict__["was"], warning.__dict__["wanted"]) == ("0644", "0600")
    assert warning.__dict__["setting"] == "FORWARDER_FILE__MODE"


@pytest.mark.usefixtures("permissive_umask")
async def test_a_file_whose_mode_cannot_be_changed_is_still_written_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "events.ndjson"
    output.touch(mode=0o644)

    def refuse(*_: object, **__: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # another user's file

    monkeypatch.setattr(os, "chmod", refuse)
    await write(FileSinkSettings(path=str(output)), count=1)
    assert output.read_bytes() == b'{"n":0}\n'
    assert any("cannot change the permissions" in record.getMessage() for record in caplog.records)


async def test_the_directory_is_synced_when_the_file_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[os.stat_result] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(os.fstat(descriptor))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    directory = tmp_path / "out"
    directory.mkdir()
    await write(FileSinkSettings(path=str(directory / "events.ndjson")))
    inode = (directory.stat().st_dev, directory.stat().st_ino)
    assert any(stat.S_ISDIR(status.st_mode) and (status.st_dev, status.st_ino) == inode for status in synced)

    # Opening the file again creates nothing: no directory to sync.
    synced.clear()
    await write(FileSinkSettings(path=str(directory / "events.ndjson")))
    assert synced
    assert not any(stat.S_ISDIR(status.st_mode) for status in synced)


async def test_with_fsync_off_nothing_is_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    await write(FileSinkSettings(path=str(tmp_path / "events.ndjson"), fsync=False))
    assert synced == []


async def test_standard_output_is_written_as_before(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    touched: list[object] = []
    monkeypatch.setattr(os, "fchmod", lambda *arguments: touched.append(arguments))
    monkeypatch.setattr(os, "chmod", lambda *arguments, **_: touched.append(arguments))
    await write(FileSinkSettings(path="-"))
    assert capsysbinary.readouterr().out == b'{"n":0}\n{"n":1}\n'
    assert touched == []


def test_the_mode_is_read_from_the_environment_and_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_FILE__MODE", "0640")
    assert FileSinkSettings().mode == "0640"
    monkeypatch.setenv("FORWARDER_FILE__MODE", "0644")
    with pytest.raises(ValidationError, match="0600"):
        FileSinkSettings()
