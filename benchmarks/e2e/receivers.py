"""The receivers every tool sends to: fake HEC, fake `_bulk`, a real rsyslog over TCP, a file.

A fresh receiver is started for every run, so no run meets another's documents (a `_bulk` replay
would only meet 409s, which are cheaper to answer) and each count starts from zero.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from benchmarks.e2e.processes import ChildServer, fake_bulk, fake_hec

Kind = Literal["splunk_hec", "elasticsearch", "syslog", "file"]
KINDS: tuple[Kind, ...] = ("splunk_hec", "elasticsearch", "syslog", "file")


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


class Receiver:
    """One receiver of one kind: where to send (``url``, ``port`` or ``path``) and ``count()``."""

    def __init__(self, kind: Kind, scratch: Path) -> None:
        self.kind = kind
        self.url = ""
        self.port = 0
        self.path = scratch / "events.ndjson"
        self._server: ChildServer | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._syslog: object | None = None
        self._baseline = 0
        if kind == "splunk_hec":
            self._server = fake_hec()
            self.url = self._server.url
        elif kind == "elasticsearch":
            self._server = fake_bulk()
            self.url = self._server.url
        elif kind == "syslog":
            from tests.receivers.rsyslog import start_rsyslog

            self._folder = tempfile.TemporaryDirectory(prefix="rsyslog-", dir=scratch)
            receiver = start_rsyslog(Path(self._folder.name))
            self._syslog = receiver
            self.port = receiver.ports["tcp"]
            self.path = receiver.output
            # The readiness probes are in the output already.
            self._baseline = count_lines(self.path)
        else:
            self.path.unlink(missing_ok=True)

    def count(self) -> int:
        if self._server is not None:
            return self._server.count()
        return count_lines(self.path) - self._baseline

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._syslog is not None:
            from tests.receivers.common import Receiver as SyslogReceiver

            assert isinstance(self._syslog, SyslogReceiver)
            self._syslog.stop()
        if self._folder is not None:
            self._folder.cleanup()
        if self.kind == "file":
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
