"""What the real syslog receivers have in common: finding them, starting them, reading what they parsed.

Each receiver runs as a child process on 127.0.0.1 with a generated configuration in a temporary
folder, listens on free ports (one per input), and writes every message it parsed as one JSON
object per line. Tests read that file back as :class:`Received` records.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import orjson

from tests.missing_tool import missing_tool

INSTALL_HINT = "run `sudo scripts/install-syslog-receivers.sh` to install rsyslog and syslog-ng"
# Where scripts/install-syslog-receivers.sh unpacks syslog-ng (it reads the same variable).
DEFAULT_RECEIVERS_DIR = "/opt/cloudflare-siem-forwarder/receivers"

# Inputs every receiver offers, each on its own port.
INPUTS = ("udp", "udp_3164", "tcp", "tcp_lf", "tls", "tls_mutual")


def receivers_dir() -> Path:
    return Path(os.environ.get("SYSLOG_RECEIVERS_DIR", DEFAULT_RECEIVERS_DIR))


def missing(what: str) -> NoReturn:
    missing_tool(f"{what} is not installed; {INSTALL_HINT}")


def which(*candidates: str) -> str | None:
    for candidate in candidates:
        if os.path.isabs(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
        elif found := shutil.which(candidate, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return found
    return None


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Received:
    """One message as a receiver parsed it."""

    receiver: str
    input: str
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    # The STRUCTURED-DATA field as the receiver kept it (escaped, as on the wire).
    structured_data_text: str
    # SD-ID -> PARAM-NAME -> value, unescaped.
    structured_data: dict[str, dict[str, str]]
    msg: str

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


@dataclass(frozen=True)
class Certificates:
    """A test CA (made by trustme) and what it signed, as PEM files in a receiver's folder."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def create(cls, folder: Path) -> Certificates:
        import trustme

        authority = trustme.CA()
        server = authority.issue_cert("localhost", "127.0.0.1")
        client = authority.issue_cert("forwarder-client@example.com")
        authority.cert_pem.write_to_path(str(folder / "ca.pem"))
        server.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
        server.private_key_pem.write_to_path(str(folder / "server.key"))
        client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
        client.private_key_pem.write_to_path(str(folder / "client.key"))
        return cls(
            ca=folder / "ca.pem",
            server_cert=folder / "server.pem",
            server_key=folder / "server.key",
            client_cert=folder / "client.pem",
            client_key=folder / "client.key",
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Receiver:
    """A running receiver; ``ports`` maps each of INPUTS to its port."""

    name: str
    folder: Path
    ports: dict[str, int]
    output: Path
    parse: Callable[[dict[str, Any]], Received]
    certificates: Certificates
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    # How it was started, so that a test can stop it and start it again on the same ports.
    command: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.log = self.folder / f"{self.name}.log"

    def start(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.command, self.env = command, env
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.folder
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def restart(self) -> None:
        """Start again as before (same configuration, same ports) after :meth:`stop`."""
        self.start(self.command, self.env)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        stop_process(process)

    def messages(self) -> list[Received]:
        if not self.output.exists():
            return []
        # The receiver may be writing right now: only lines it has finished are read.
        complete, _, _ = self.output.read_bytes().rpartition(b"\n")
        return [self.parse(orjson.loads(line)) for line in complete.split(b"\n") if line.strip()]

    def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, deadline: float = 15.0
    ) -> list[Received]:
        """The messages matching ``predicate`` once ``count`` have arrived (a deadline, not a timing test)."""
        give_up = time.monotonic() + deadline
        while True:
            found = [message for message in self.messages() if predicate(message)]
            if len(found) >= count:
                return found
            if time.monotonic() > give_up:
                raise AssertionError(
                    f"{self.name} received {len(found)} of {count} expected messages within {deadline} s; "
                    f"log:\n{self.log.read_text(errors='replace')[-3000:]}"
                )
            self.check_alive()
            time.sleep(0.05)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text(errors='replace')}"
            )

    def wait_ready(self, deadline: float = 20.0) -> None:
        """Until every input has delivered a probe message to the output file.

        A listening TCP port is not enough (the output may not be open yet) and a UDP port cannot
        be probed at all, so each input gets a real message, resent until it shows up.
        """
        give_up = time.monotonic() + deadline
        token = uuid.uuid4().hex
        pending = set(INPUTS)
        while pending:
            self.check_alive()
            for name in list(pending):
                send_probe(name, self.ports[name], f"probe-{token}-{name}", self.folder)
            time.sleep(0.1)
            seen = {message.msg.strip() for message in self.messages()}
            pending = {name for name in pending if f"probe-{token}-{name}" not in seen}
            if pending and time.monotonic() > give_up:
                log = self.log.read_text(errors="replace")
                raise AssertionError(f"{self.name} did not receive on {sorted(pending)}; log:\n{log}")


def send_probe(input_name: str, port: int, text: str, folder: Path) -> None:
    line = f"<14>1 2024-01-01T00:00:00Z probe probe - probe - {text}".encode()
    if input_name == "udp_3164":
        line = f"<14>Jan  1 00:00:00 probe probe: {text}".encode()
    try:
        if input_name.startswith("udp"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(line, ("127.0.0.1", port))
            return
        framed = line + b"\n" if input_name == "tcp_lf" else b"%d %s" % (len(line), line)
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            if input_name.startswith("tls"):
                context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
                context.load_cert_chain(str(folder / "client.pem"), str(folder / "client.key"))
                with context.wrap_socket(raw, server_hostname="localhost") as secure:
                    secure.sendall(framed)
                    secure.unwrap()
            else:
                raw.sendall(framed)
    except OSError:
        # Not listening yet: the next round tries again.
        pass


def parse_structured_data(text: str) -> dict[str, dict[str, str]]:
    """RFC 5424 STRUCTURED-DATA to nested dicts; written here, apart from the sink, to check it."""
    result: dict[str, dict[str, str]] = {}
    if text in ("", "-"):
        return result
    position = 0
    while position < len(text):
        assert text[position] == "[", f"SD-ELEMENT must start with '[' at {position}: {text!r}"
        position += 1
        end = position
        while text[end] not in " ]":
            end += 1
        sd_id = text[position:end]
        params: dict[str, str] = {}
        position = end
        while text[position] == " ":
            equals = text.index("=", position)
            name = text[position + 1 : equals]
            assert text[equals + 1] == '"', f"PARAM-VALUE must be quoted: {text!r}"
            position = equals + 2
            value: list[str] = []
            while text[position] != '"':
                if text[position] == "\\" and text[position + 1] in '"\\]':
                    position += 1
                value.append(text[position])
                position += 1
            params[name] = "".join(value)
            position += 1
        assert text[position] == "]", f"SD-ELEMENT must end with ']' at {position}: {text!r}"
        position += 1
        result[sd_id] = params
    return result
