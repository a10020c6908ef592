"""A real rsyslogd on 127.0.0.1: UDP, TCP (octet counting and LF) and TLS (GnuTLS) inputs.

rsyslog keeps STRUCTURED-DATA as the escaped text it received, so the tests parse it with their
own parser; it also keeps a BOM at the start of MSG, which ``msg`` here leaves in place.
"""

from __future__ import annotations

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
    parse_structured_data,
    which,
)

# Every property the tests compare, written with JSON escaping by rsyslog itself.
TEMPLATE = """
template(name="received" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timestamp" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
"""


def config(folder: Path, ports: dict[str, int], certificates: Certificates, output: Path) -> str:
    # Control characters are kept as sent (rsyslog would write a tab as "#011"), and messages up to
    # 64 KiB are taken whole, so what the file holds is exactly what was parsed.
    return f"""
global(workDirectory="{folder}" parser.escapeControlCharactersOnReceive="off" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{certificates.ca}"
       defaultNetstreamDriverCertFile="{certificates.server_cert}"
       defaultNetstreamDriverKeyFile="{certificates.server_key}")
module(load="imudp")
module(load="imtcp" maxSessions="200")
input(type="imudp" address="127.0.0.1" port="{ports["udp"]}" name="udp")
input(type="imudp" address="127.0.0.1" port="{ports["udp_3164"]}" name="udp_3164")
input(type="imtcp" address="127.0.0.1" port="{ports["tcp"]}" name="tcp")
input(type="imtcp" address="127.0.0.1" port="{ports["tcp_lf"]}" name="tcp_lf")
input(type="imtcp" address="127.0.0.1" port="{ports["tls"]}" name="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="{ports["tls_mutual"]}" name="tls_mutual"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
{TEMPLATE}
action(type="omfile" file="{output}" template="received")
"""


def parse(line: dict[str, Any]) -> Received:
    structured_data = line.get("structured_data", "-")
    return Received(
        receiver="rsyslog",
        input=line["input"],
        pri=int(line["pri"]),
        timestamp=line["timestamp"],
        hostname=line["hostname"],
        app_name=line["app_name"],
        procid=line["procid"],
        msgid=line["msgid"],
        structured_data_text=structured_data,
        structured_data=parse_structured_data(structured_data),
        msg=line["msg"],
    )


def start_rsyslog(folder: Path) -> Receiver:
    binary = which("rsyslogd", "/usr/sbin/rsyslogd")
    if binary is None:
        missing("rsyslog (rsyslogd)")
    assert binary is not None
    certificates = Certificates.create(folder)
    ports = {
        name: free_port(socket.SOCK_DGRAM if name.startswith("udp") else socket.SOCK_STREAM)
        for name in INPUTS
    }
    output = folder / "received.jsonl"
    configuration = folder / "rsyslog.conf"
    configuration.write_text(config(folder, ports, certificates, output))
    receiver = Receiver("rsyslog", folder, ports, output, parse, certificates)
    receiver.start([binary, "-n", "-f", str(configuration), "-i", str(folder / "rsyslogd.pid")])
    return receiver
