"""syslog-ng (the Debian binary) as a forwarder: reads the same NDJSON, sends to the same receivers.

It runs as a daemon, so it is measured while running: CPU from /proc/<pid>/stat at the moment the
receiver holds every event, wall time from its start to then. The log path has flow control, so
syslog-ng waits for a slow destination instead of dropping (its default when a queue is full).

What it does, per destination:

* HEC: ``http()`` posting ``{"host","source","sourcetype","event": <the line>}`` objects, 500 per
  request, 4 workers. Bare, it does not parse the line (no event time: HEC stamps the arrival
  time, so a backfill lands at the wrong time in Splunk). With ``event_time``, it does what the
  forwarder does for HEC's ``time``: ``json-parser`` on every line, then the event time from it
  (ECS: ``date-parser`` on ``@timestamp``; OCSF: ``time``'s epoch milliseconds cut as seconds).
* `_bulk`: ``json-parser`` on every line (for the event id), ``http()`` posting ``create`` action
  lines with ``_id`` and the line as the source, 500 per request, 4 workers. It does not read the
  per-item results inside the HTTP 200, as the forwarder does.
* syslog: ``syslog()`` over TCP (RFC 5424, octet counting) with the line as MSG, no structured data.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.e2e.peers import BULK_TARGET, SOURCETYPE
from benchmarks.e2e.processes import HEC_TOKEN, ToolFailed, Usage, cpu_seconds, peak_rss_mb
from benchmarks.e2e.receivers import Receiver
from tests.receivers.common import stop_process
from tests.support.syslog_ng_fair import Endpoint, SyslogNgUnavailable, launch

BATCH = 500


def hec_time(fmt: str) -> tuple[str, str]:
    """(parser statements, `"time":...,` member) that give HEC the event's own time."""
    parser = 'parser { json-parser(prefix(".json.")); };'
    if fmt == "ecs":
        parser += (
            ' parser { date-parser(format("%Y-%m-%dT%H:%M:%S.%f%z") template("${.json.@timestamp}")); };'
        )
        return parser, '\\"time\\":${S_UNIXTIME},'
    # OCSF `time` is epoch milliseconds: seconds, a point, the milliseconds.
    return parser, '\\"time\\":$(substr ${.json.time} 0 10).$(substr ${.json.time} 10 3),'


def destination(receiver: Receiver, fmt: str, *, event_time: bool = False) -> tuple[str, str]:
    """(parser statements, destination body) for one receiver."""
    if receiver.kind == "splunk_hec":
        parser, time_member = hec_time(fmt) if event_time else ("", "")
        body = (
            f'{{{time_member}\\"host\\":\\"bench\\",\\"source\\":\\"cloudflare\\",'
            f'\\"sourcetype\\":\\"{SOURCETYPE}\\",\\"event\\":${{MSG}}}}'
        )
        return parser, (
            f'http(url("{receiver.url}/services/collector/event") method("POST")\n'
            f'  headers("Authorization: Splunk {HEC_TOKEN}", "Content-Type: application/json")\n'
            f'  body("{body}") delimiter("\\n") batch-lines({BATCH}) batch-bytes(10MB)\n'
            '  batch-timeout(200) workers(4) timeout(60) persist-name("hec"))'
        )
    if receiver.kind == "elasticsearch":
        key = "${.json.event.id}" if fmt == "ecs" else "${.json.metadata.uid}"
        source = "${MSG}"
        parser = 'parser { json-parser(prefix(".json.")); };'
        if fmt == "ocsf":
            # Data streams need @timestamp; OCSF has `time` in epoch milliseconds.
            parser += ' parser { date-parser(format("%s") template("$(substr ${.json.time} 0 10)")); };'
            source = '{\\"@timestamp\\":\\"${S_ISODATE}\\",$(substr \\"${MSG}\\" 1)'
        body = f'{{\\"create\\":{{\\"_index\\":\\"{BULK_TARGET}\\",\\"_id\\":\\"{key}\\"}}}}\\n{source}'
        return parser, (
            f'http(url("{receiver.url}/_bulk") method("POST")\n'
            '  headers("Content-Type: application/x-ndjson")\n'
            f'  body("{body}") delimiter("\\n") body-suffix("\\n") batch-lines({BATCH})\n'
            '  batch-bytes(10MB) batch-timeout(200) workers(4) timeout(60) persist-name("bulk"))'
        )
    if receiver.kind == "syslog":
        return "", f'syslog("127.0.0.1" port({receiver.port}) transport("tcp") persist-name("syslog"))'
    raise ValueError(f"no syslog-ng destination for {receiver.kind}")


def config(source: Path, receiver: Receiver, fmt: str, *, event_time: bool = False) -> str:
    parser, target = destination(receiver, fmt, event_time=event_time)
    return f"""@version: 3.38
options {{
    use-dns(no); dns-cache(no); stats-freq(0); log-msg-size(1048576); frac-digits(6);
    log-fifo-size(20000); keep-hostname(yes); chain-hostnames(no);
}};
source s_file {{
    file("{source}" flags(no-parse) follow-freq(0.05) log-fetch-limit({BATCH}) log-iw-size(20000));
}};
destination d_out {{
    {target};
}};
log {{ source(s_file); {parser} destination(d_out); flags(flow-control); }};
"""


def run_syslog_ng(
    source: Path,
    receiver: Receiver,
    fmt: str,
    expected: int,
    folder: Path,
    *,
    event_time: bool = False,
    timeout: float = 900.0,
) -> Usage:
    text = config(source, receiver, fmt, event_time=event_time)
    return run_configured(text, receiver, expected, folder, timeout=timeout)


def run_configured(
    text: str, receiver: Endpoint, expected: int, folder: Path, *, timeout: float = 900.0
) -> Usage:
    """Run syslog-ng with `text` as its configuration until `receiver` holds `expected` events, then
    check that it holds exactly that many."""
    log = folder / "syslog-ng.log"
    started = time.perf_counter()
    try:
        process = launch(text, folder, log)
    except SyslogNgUnavailable as error:
        raise ToolFailed(str(error)) from error
    try:
        deadline = started + timeout
        # On empty input there is nothing to wait for: what it spent starting is the cost measured.
        minimum = started + (0.5 if expected == 0 else 0.0)
        while receiver.count() < expected or time.perf_counter() < minimum:
            if process.poll() is not None:
                raise ToolFailed(f"syslog-ng exited with {process.returncode}: {log.read_text()[-2000:]}")
            if time.perf_counter() > deadline:
                raise ToolFailed(f"syslog-ng: {receiver.count()} of {expected} events within {timeout:.0f} s")
            time.sleep(0.01)
        # On empty input the wait above is a fixed pause, not start-up time: syslog-ng starts in milliseconds.
        wall = time.perf_counter() - started if expected else 0.0
        usage = Usage(cpu_seconds(process.pid), wall, peak_rss_mb(process.pid))
    finally:
        stop_process(process)
    got = receiver.count()
    if got != expected:
        raise ToolFailed(f"syslog-ng -> {receiver.kind}: {got} of {expected} events arrived")
    return usage
