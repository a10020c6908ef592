"""A real syslog-ng on 127.0.0.1: UDP, TCP (octet counting and LF) and TLS (OpenSSL) inputs.

syslog-ng parses STRUCTURED-DATA itself into ``.SDATA.<id>.<name>`` values, which format-json
writes as a nested object: those unescaped values are what the tests compare. It removes a BOM
from the start of MSG.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from tests.receivers.common import (
    INPUTS,
    Certificates,
    Received,
    Receiver,
    free_port,
    missing,
    receivers_dir,
    which,
)

FIELDS = (
    "source=$SOURCE pri=$PRI isodate=$ISODATE host=$HOST program=$PROGRAM pid=$PID "
    "msgid=$MSGID sdata=$SDATA msg=$MSG"
)


def config(ports: dict[str, int], certificates: Certificates, output: Path) -> str:
    tls = f'key-file("{certificates.server_key}") cert-file("{certificates.server_cert}")'
    # syslog() sources take RFC 5424 with RFC 6587 octet counting; network() sources take one
    # message per line (tcp_lf) or RFC 3164 datagrams (udp_3164), as a relay would be set up.
    return f"""@version: 3.38
options {{
    chain-hostnames(no); keep-hostname(yes); use-dns(no); use-fqdn(no); dns-cache(no);
    keep-timestamp(yes); frac-digits(6); log-msg-size(65536); stats-freq(0);
}};
source s_udp {{ syslog(ip("127.0.0.1") port({ports["udp"]}) transport("udp")); }};
source s_udp_3164 {{ network(ip("127.0.0.1") port({ports["udp_3164"]}) transport("udp")); }};
source s_tcp {{ syslog(ip("127.0.0.1") port({ports["tcp"]}) transport("tcp")); }};
source s_tcp_lf {{ network(ip("127.0.0.1") port({ports["tcp_lf"]}) transport("tcp")
    flags(syslog-protocol)); }};
source s_tls {{ syslog(ip("127.0.0.1") port({ports["tls"]}) transport("tls")
    tls({tls} peer-verify(optional-untrusted))); }};
source s_tls_mutual {{ syslog(ip("127.0.0.1") port({ports["tls_mutual"]}) transport("tls")
    tls({tls} ca-file("{certificates.ca}") peer-verify(required-trusted))); }};
destination d_json {{
    file("{output}" time-zone("+00:00")
         template("$(format-json --scope none --key .SDATA.* {FIELDS})\\n"));
}};
log {{
    source(s_udp); source(s_udp_3164); source(s_tcp); source(s_tcp_lf); source(s_tls); source(s_tls_mutual);
    destination(d_json);
}};
"""


def parse(line: dict[str, Any]) -> Received:
    structured: dict[str, dict[str, str]] = line.get("_SDATA", {})
    return Received(
        receiver="syslog-ng",
        input=line["source"].removeprefix("s_"),
        pri=int(line["pri"]),
        timestamp=line["isodate"],
        hostname=line.get("host", ""),
        app_name=line.get("program", ""),
        procid=line.get("pid", ""),
        msgid=line.get("msgid", ""),
        structured_data_text=line.get("sdata", ""),
        structured_data={sd_id: dict(params) for sd_id, params in structured.items()},
        msg=line.get("msg", ""),
    )


def find_syslog_ng() -> tuple[str, dict[str, str], str] | None:
    """The binary, its environment and its module path: unpacked by the install script, or from apt."""
    root = receivers_dir() / "syslog-ng"
    unpacked = root / "usr" / "sbin" / "syslog-ng"
    if unpacked.exists():
        modules = sorted((root / "usr" / "lib" / "syslog-ng").glob("3.*"))
        if modules:
            env = dict(os.environ)
            libraries = str(root / "usr" / "lib" / "syslog-ng")
            env["LD_LIBRARY_PATH"] = ":".join(filter(None, [libraries, env.get("LD_LIBRARY_PATH")]))
            return str(unpacked), env, str(modules[-1])
    installed = which("syslog-ng", "/usr/sbin/syslog-ng")
    if installed is not None:
        modules = sorted(Path("/usr/lib/syslog-ng").glob("3.*"))
        return installed, dict(os.environ), str(modules[-1]) if modules else ""
    return None


def syslog_ng_command(binary: str, folder: Path, configuration: Path, module_path: str) -> list[str]:
    """syslog-ng in the foreground, its state files in ``folder`` (several can run side by side)."""
    command = [
        binary,
        "--foreground",
        "--stderr",
        f"--cfgfile={configuration}",
        f"--pidfile={folder / 'syslog-ng.pid'}",
        f"--persist-file={folder / 'syslog-ng.persist'}",
        f"--control={folder / 'syslog-ng.ctl'}",
    ]
    if module_path:
        command.append(f"--module-path={module_path}")
    return command


def start_syslog_ng(folder: Path) -> Receiver:
    found = find_syslog_ng()
    if found is None:
        missing("syslog-ng")
    assert found is not None
    binary, env, module_path = found
    certificates = Certificates.create(folder)
    ports = {
        name: free_port(socket.SOCK_DGRAM if name.startswith("udp") else socket.SOCK_STREAM)
        for name in INPUTS
    }
    output = folder / "received.jsonl"
    configuration = folder / "syslog-ng.conf"
    configuration.write_text(config(ports, certificates, output))
    receiver = Receiver("syslog-ng", folder, ports, output, parse, certificates)
    receiver.start(syslog_ng_command(binary, folder, configuration, module_path), env=env)
    return receiver
