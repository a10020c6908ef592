"""Running things as processes and measuring them the same way: CPU from the kernel, peak RSS, wall time.

The fake receivers run in child processes of their own (spawned, so they share nothing with the harness)
and answer `count` over a pipe, so their parsing never shares a core's accounting with the tool measured.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
HEC_TOKEN = "00000000-0000-4000-8000-0000000000e2"


@dataclass(frozen=True)
class Usage:
    """What one run of a tool cost: CPU seconds (user + system), wall seconds, peak RSS in MB."""

    cpu: float
    wall: float
    peak_rss_mb: float


class ToolFailed(RuntimeError):
    pass


def run_measured(
    command: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    *,
    timeout: float,
    done: Callable[[], bool] | None = None,
) -> Usage:
    """Run a command to its end; CPU is the kernel's (`wait4`), of that process alone.

    Peak RSS is the kernel's high-water mark of the process's own address space (VmHWM), read every
    10 ms while it runs. Not wait4's ``ru_maxrss``: that counts the pages the child shared with this
    process between fork and exec, so it reported this harness's size (it holds the records).

    ``done`` (when given) is polled after the exit until it holds: wall time runs until the receiver
    has every event, not just until the sender has handed the last byte to the kernel.
    """
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(list(command), env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    deadline = started + timeout
    peak = 0.0
    own_command_line = Path("/proc/self/cmdline").read_bytes()
    while True:
        try:
            # Only after exec: before it, the child is a copy of this process (same command line).
            if Path(f"/proc/{process.pid}/cmdline").read_bytes() != own_command_line:
                peak = max(peak, peak_rss_mb(process.pid))
        except OSError:
            pass
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise ToolFailed(f"{command[:4]} did not finish within {timeout:.0f} s; see {log}")
        time.sleep(0.01)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise ToolFailed(f"{command[:4]} exited with {process.returncode}; see {log}")
    wait_until(done, deadline, f"{command[:4]}: the receiver never got every event; see {log}")
    wall = time.perf_counter() - started
    return Usage(usage.ru_utime + usage.ru_stime, wall, peak or usage.ru_maxrss / 1024)


def wait_until(condition: Callable[[], bool] | None, deadline: float, message: str) -> None:
    while condition is not None and not condition():
        if time.perf_counter() > deadline:
            raise ToolFailed(message)
        time.sleep(0.01)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (every thread), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14 and stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the fake receivers, each in a child process ------------------------------------------------


def _serve_hec(connection: Connection) -> None:
    from fakes.splunk_hec import FakeHec, HecToken

    async def serve() -> None:
        fake = FakeHec([HecToken(HEC_TOKEN)], keep=False)
        async with fake.serve():
            await _answer(connection, fake.url, lambda: fake.indexed_count)

    asyncio.run(serve())


def _serve_bulk(connection: Connection) -> None:
    from fakes.elasticsearch import FakeElasticsearch

    async def serve() -> None:
        async with FakeElasticsearch(record_requests=False, keep_sources=False) as fake:
            await _answer(
                connection, fake.url, lambda: sum(len(target.documents) for target in fake.targets.values())
            )

    asyncio.run(serve())


async def _answer(connection: Connection, url: str, count: Callable[[], int]) -> None:
    connection.send(url)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, connection.recv)) != "stop":
        connection.send(count())


class ChildServer:
    """A fake receiver in a spawned process: ``url``, ``count()`` of events it accepted, ``stop()``."""

    def __init__(self, target: Callable[[Connection], None]) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=target, args=(child,), daemon=True)
        self._process.start()
        if not self._connection.poll(30):
            raise ToolFailed("a fake receiver did not start")
        self.url: str = self._connection.recv()

    def count(self) -> int:
        self._connection.send("count")
        return int(self._connection.recv())

    def stop(self) -> None:
        self._connection.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def fake_hec() -> ChildServer:
    return ChildServer(_serve_hec)


def fake_bulk() -> ChildServer:
    return ChildServer(_serve_bulk)
