"""syslog-ng 3.38 doing the forwarder's job: raw Access records in, the same ECS documents out.

The pass-through peer (``syslog_ng.py``) splices lines the forwarder already mapped into an envelope;
this one starts from what the Cloudflare API serves (one ``result`` item per line, ``raw.ndjson``),
so it parses, maps and escapes as the forwarder does:

* ``json-parser(prefix(".cf."))`` on every line;
* ``date-parser`` on ``${.cf.created_at}`` (RFC 3339, with or without a fraction, nanoseconds
  truncated to microseconds as Python does): the event time, for ``@timestamp`` and HEC's ``time``.
  A record without a readable time keeps its receipt time, as the forwarder uses its read time;
* ``regexp-parser`` splitting ``app_domain`` into the URL's domain, port, path and query;
* ``$(md5 ${MSG})`` as a deterministic event id (``event.id``, and `_bulk`'s ``_id``);
* one ``$(format-json --scope none --omit-empty-values ...)`` per event that writes the whole nested
  ECS document: every value JSON-escaped once, absent or null input fields left out as the forwarder
  leaves them out, ``list()`` / ``literal()`` for the arrays;
* ``http()`` with the HEC envelope (``time`` from the event) or the `_bulk` ``create`` action line,
  500 events per request, 4 workers, and ``flags(flow-control)`` so that nothing is dropped.

It lives under tests/support so that its test can use it (nothing under tests/ imports benchmarks/);
`benchmarks/e2e/runner.py` runs it beside the forwarder and measures it.

Fields it cannot produce identically (tests/integration/test_syslog_ng_fair_peer.py checks every
other field against ``forwarder.formats.ecs`` on the same records, and these differences on the
golden edge cases, tests/golden/input/access_requests.cases.ndjson):

* ``event.id``: md5 of the line, not the forwarder's BLAKE2b of the canonical record with account and
  log type (syslog-ng has no canonical JSON; both are deterministic and unique per distinct record);
* ``event.created``: when syslog-ng read the line, where the forwarder has when it read the page (the
  same meaning, another process, another moment).

On records the simulator does not send (the edge cases), also:

* ``source.ip`` / ``related.ip`` are the text as sent: no validation (``not-an-ip`` is sent, which
  Elasticsearch's ``ip`` type refuses; the forwarder keeps it in ``source.address`` only) and no
  canonical IPv6 spelling;
* ``@timestamp`` of a ``created_at`` in epoch seconds or milliseconds is the receipt time (the
  forwarder reads epoch numbers); RFC 3339 with any offset is read as the forwarder reads it;
* ``cloudflare.access.*`` holds ``app_uid`` and ``connection`` only: fields the API adds later, an
  unreadable ``created_at`` and a ``country`` not used (the forwarder keeps them there) are dropped.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Protocol

from tests.receivers.common import stop_process
from tests.receivers.syslog_ng import find_syslog_ng, syslog_ng_command

BATCH = 500
# As the benchmark's forwarder sends them: its default `_bulk` target and HEC sourcetype for access requests.
BULK_TARGET = "logs-cloudflare.access_requests-default"
SOURCETYPE = "cloudflare:access"


class Endpoint(Protocol):
    """Where the peer sends: a benchmark `Receiver`, or a test's fake that keeps what it received."""

    @property
    def kind(self) -> str: ...

    @property
    def url(self) -> str: ...

    def count(self) -> int: ...


ACCESS_REQUESTS = "access_requests"
# The URL's parts as urlsplit reads an application domain (the API sends no scheme, but one is
# allowed). It matches any string (every part is optional): a record without `app_domain` passes.
URL_PATTERN = (
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?<domain>[^/:?#]*)(?::(?<port>[0-9]+))?"
    r"(?<path>/[^?#]*)?(?:\?(?<query>[^#]*))?"
)
# `@timestamp` as the forwarder writes it: UTC, six fraction digits, `Z` (send-time-zone is UTC).
EVENT_TIME = "$(substr ${S_ISODATE} 0 26)Z"
RECEIPT_TIME = "$(substr ${R_ISODATE} 0 26)Z"
EVENT_TYPE = '$(if ("${.action}" eq "login") "start" $(if ("${.action}" eq "logout") "end" "info"))'
OUTCOME = (
    '$(if ("${.cf.allowed}" eq "true") "success" $(if ("${.cf.allowed}" eq "false") "failure" "unknown"))'
)


def document(account: str) -> str:
    """The template of one ECS document: the fields `forwarder.formats.ecs` writes for an access request."""
    pairs = [
        f"@timestamp={EVENT_TIME}",
        "ecs.version=9.4.0",
        "event.kind=event",
        'event.category=literal(["authentication"])',
        "event.id=${.id}",
        f"event.created={RECEIPT_TIME}",
        "event.module=cloudflare",
        "event.dataset=cloudflare.access_requests",
        "event.provider=cloudflare_access",
        "event.action=${.cf.action}",
        f"event.type=list({EVENT_TYPE})",
        f"event.outcome={OUTCOME}",
        "observer.vendor=Cloudflare",
        '"observer.product=Cloudflare Access"',
        "cloud.provider=cloudflare",
        f"cloud.account.id={account}",
        "user.email=${.cf.user_email}",
        "user.name=${.cf.user_email}",
        "user.id=${.cf.user_id}",
        "source.address=${.cf.ip_address}",
        "source.ip=${.cf.ip_address}",
        "source.geo.country_iso_code=$(uppercase $(or ${.cf.country_code} ${.cf.country}))",
        "url.original=${.cf.app_domain}",
        "url.domain=${.host}",
        "url.port=int64(${.url.port})",
        "url.path=${.url.path}",
        "url.query=${.url.query}",
        "http.request.id=${.cf.ray_id}",
        "related.ip=list($(list-concat ${.cf.ip_address}))",
        "related.hosts=list($(list-concat ${.host}))",
        "related.user=list($(list-concat ${.cf.user_email} ${.cf.user_id}))",
        "cloudflare.access.app_uid=${.cf.app_uid}",
        "cloudflare.access.connection=${.cf.connection}",
    ]
    return "$(format-json --scope none --omit-empty-values " + " ".join(pairs) + ")"


def body(kind: str, account: str) -> str:
    """The http() body template of one event: the HEC envelope, or the `_bulk` action and source lines."""
    if kind == "splunk_hec":
        source = f"cloudflare:{account}:{ACCESS_REQUESTS}"
        return (
            f'{{"time":${{S_UNIXTIME}},"host":"bench","source":"{source}","sourcetype":"{SOURCETYPE}",'
            f'"event":{document(account)}}}'
        )
    if kind == "elasticsearch":
        return f'{{"create":{{"_index":"{BULK_TARGET}","_id":"${{.id}}"}}}}\n{document(account)}'
    raise ValueError(f"the fair syslog-ng peer sends to HEC or _bulk, not {kind}")


def quoted(text: str) -> str:
    """A syslog-ng configuration string: double quotes, with backslash escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def destination(receiver: Endpoint, account: str, token: str) -> str:
    common = (
        f'body({quoted(body(receiver.kind, account))}) delimiter("\\n") batch-lines({BATCH})\n'
        "  batch-bytes(10MB) batch-timeout(200) workers(4) timeout(60)"
    )
    if receiver.kind == "splunk_hec":
        return (
            f'http(url("{receiver.url}/services/collector/event") method("POST")\n'
            f'  headers("Authorization: Splunk {token}", "Content-Type: application/json")\n'
            f'  {common} persist-name("hec-fair"))'
        )
    return (
        f'http(url("{receiver.url}/_bulk") method("POST")\n'
        '  headers("Content-Type: application/x-ndjson")\n'
        f'  {common} body-suffix("\\n") persist-name("bulk-fair"))'
    )


def config(source: Path, receiver: Endpoint, account: str, token: str = "") -> str:
    """The whole configuration: read `source` (raw records, one per line), map, send to `receiver`."""
    return f"""@version: 3.38
options {{
    use-dns(no); dns-cache(no); stats-freq(0); log-msg-size(1048576); frac-digits(6);
    log-fifo-size(20000); keep-hostname(yes); chain-hostnames(no); send-time-zone("+00:00");
}};
source s_raw {{
    file("{source}" flags(no-parse) follow-freq(0.05) log-fetch-limit({BATCH}) log-iw-size(20000));
}};
destination d_out {{
    {destination(receiver, account, token)};
}};
log {{
    source(s_raw);
    parser {{ json-parser(prefix(".cf.")); }};
    junction {{
        channel {{
            parser {{
                date-parser(format("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")
                            template("${{.cf.created_at}}"));
            }};
            flags(final);
        }};
        # No readable created_at: the receipt time stands, as the forwarder falls back to its read time.
        channel {{ flags(final); }};
    }};
    parser {{
        regexp-parser(patterns({quoted(URL_PATTERN)}) prefix(".url.") template("${{.cf.app_domain}}"));
    }};
    # Values used twice are computed once: 5 % less CPU than calling lowercase twice (measured).
    rewrite {{
        set("$(md5 ${{MSG}})" value(".id"));
        set("$(lowercase ${{.url.domain}})" value(".host"));
        set("$(lowercase ${{.cf.action}})" value(".action"));
    }};
    destination(d_out);
    flags(flow-control);
}};
"""


class SyslogNgUnavailable(RuntimeError):
    """syslog-ng, or its http() destination, is not installed (the message says which script installs it)."""


def launch(text: str, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    """syslog-ng running `text` as its configuration, its state files in `folder`, its output in `log`."""
    found = find_syslog_ng()
    if found is None:
        raise SyslogNgUnavailable("syslog-ng is not installed: run scripts/install-syslog-receivers.sh")
    binary, env, module_path = found
    if not list(Path(module_path).glob("libhttp.so")):
        raise SyslogNgUnavailable("syslog-ng has no HTTP destination: run scripts/install-bench-tools.sh")
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("syslog-ng.*"):
        leftover.unlink()
    configuration = folder / "syslog-ng.conf"
    configuration.write_text(text)
    with log.open("ab") as output:
        return subprocess.Popen(
            syslog_ng_command(binary, folder, configuration, module_path),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def deliver(text: str, endpoint: Endpoint, expected: int, folder: Path, *, timeout: float = 60.0) -> None:
    """Run syslog-ng until `endpoint` holds `expected` events (or raise, with its log), then stop it."""
    log = folder / "syslog-ng.log"
    process = launch(text, folder, log)
    try:
        deadline = time.monotonic() + timeout
        while endpoint.count() < expected:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{endpoint.count()} of {expected} events arrived: {log.read_text()[-2000:]}"
                )
            time.sleep(0.05)
    finally:
        stop_process(process)
