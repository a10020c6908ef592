"""Files that hold whole records (personal data): created with exact permissions, made durable.

The file sink's output and the dead letters are created with their mode (0600, or 0640 when an
operator widens it) whatever the process umask, the directories the forwarder creates for them
with 0700 (0750), and the directory is synced after an entry is created, renamed or removed.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO


def directory_mode(file_mode: int) -> int:
    """The mode of a directory holding files of ``file_mode``: 0600 gives 0700, 0640 gives 0750.

    Whoever may read the files may also enter the directory (``x`` wherever ``r`` is), no more.
    """
    return file_mode | ((file_mode & 0o444) >> 2)


def fsync_directory(directory: Path) -> None:
    """Make the entries just created, renamed or removed in ``directory`` survive a power cut."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        # A directory we may write to but not read cannot be opened to sync; as PostgreSQL does,
        # go on rather than refuse to write at all.
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        # EINVAL: this file system cannot sync a directory (some network and FUSE ones).
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(descriptor)


def make_directories(directory: Path, mode: int) -> None:
    """Create ``directory`` and its missing parents with exactly ``mode``, whatever the umask.

    A directory that already exists is left as it is: it is someone's choice, not ours.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            continue  # created by someone else meanwhile: theirs, left as it is
        # The umask may have narrowed the mode; keep a set-group-ID bit inherited from the parent,
        # which is how a group shares the files that 0640 lets it read.
        inherited = stat.S_IMODE(os.stat(path).st_mode) & stat.S_ISGID
        os.chmod(path, mode | inherited)
        fsync_directory(path.parent)


def conform_mode(target: int | Path, path: Path, mode: int, logger: logging.Logger, setting: str) -> None:
    """Give the existing regular file ``target`` (a descriptor or a path) the permissions ``mode``.

    A file created before permissions were enforced, or by hand, may be readable by every local
    user; it holds the same data as a new file, so it gets the same mode, with a warning saying
    what changed. Other kinds of file (``/dev/stdout``, a pipe a log agent reads) are not ours to
    change. A file we may not chmod (another user's) is written to anyway, with a warning.
    """
    status = os.stat(target)
    current = stat.S_IMODE(status.st_mode)
    if not stat.S_ISREG(status.st_mode) or current == mode:
        return
    details = {"path": str(path), "was": f"{current:04o}", "wanted": f"{mode:04o}", "setting": setting}
    try:
        os.chmod(target, mode)
    except OSError as error:
        logger.warning(
            "cannot change the permissions of an existing file; writing to it anyway",
            extra={**details, "reason": error.strerror},
        )
        return
    logger.warning("changed the permissions of an existing file to the configured ones", extra=details)


def open_private(path: Path, mode: int, logger: logging.Logger, setting: str) -> tuple[BinaryIO, bool]:
    """Open ``path`` for appending, creating it with exactly ``mode``; True when it was created.

    The file is created with ``mode`` narrowed by the umask, never wider, then set to ``mode``:
    no moment when others may read it. An existing file is given ``mode`` (see ``conform_mode``).
    A new file's directory entry is not yet durable: the caller syncs the directory.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
    # A few tries: the file may be renamed away (by `replay-dlq`) between the two opens.
    for _ in range(3):
        try:
            descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            pass
        else:
            try:
                os.fchmod(descriptor, mode)
                return os.fdopen(descriptor, "ab"), True
            except BaseException:
                os.close(descriptor)
                raise
        try:
            descriptor = os.open(path, flags)
        except FileNotFoundError:
            continue
        try:
            conform_mode(descriptor, path, mode, logger, setting)
            return os.fdopen(descriptor, "ab"), False
        except BaseException:
            os.close(descriptor)
            raise
    raise FileNotFoundError(errno.ENOENT, "the file keeps disappearing while being opened", str(path))
