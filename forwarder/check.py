"""`check`: prove the configuration works before it runs: Cloudflare answers, every sink too."""

from __future__ import annotations

import sys

from forwarder.app import Forwarder, Parts
from forwarder.builders import make_client
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType
from forwarder.scrubbing import Scrubber
from forwarder.settings import Config
from forwarder.sinks.base import SinkError
from forwarder.source.errors import CloudflareError

# A retryable failure is retried a few times, then reported: `check` must answer.
ATTEMPTS = 3


def say(ok: bool, what: str, detail: str = "", *, scrubber: Scrubber | None = None, mark: str = "") -> None:
    mark = mark or ("ok  " if ok else "FAIL")
    line = f"{mark} {what}{': ' + detail if detail else ''}"
    print(scrubber.text(line) if scrubber is not None else line, file=sys.stdout, flush=True)


async def run_check(config: Config) -> int:
    scrubber = Scrubber.from_config(config)
    settings = config.settings
    client = make_client(settings, attempts=ATTEMPTS)
    failures = 0
    try:
        forwarder = Forwarder.build(
            config, Parts(sinks=[], checkpoints=MemoryCheckpointStore(), client=client)
        )
        for stream in forwarder.streams:
            what = f"Cloudflare {stream.log_type.value} of account {stream.account_id}"
            try:
                idps = await stream.probe()
            except CloudflareError as error:
                failures += 1
                say(False, what, str(error), scrubber=scrubber)
                continue
            if stream.log_type is LogType.SCIM_UPDATES:
                detail = f"readable ({idps} SCIM identity providers)" if idps else "no SCIM IdP yet"
            else:
                detail = "readable"
            say(True, what, detail, scrubber=scrubber)
        for sink_config in config.sinks:
            sink = sink_config.build()
            try:
                await sink.open()
                await sink.check()
                say(True, f"sink {sink.describe()}", scrubber=scrubber)
                for warning in sink.warnings():
                    say(
                        True, f"sink {sink.describe()}", f"warning: {warning}", scrubber=scrubber, mark="warn"
                    )
            except SinkError as error:
                failures += 1
                say(False, f"sink {sink.describe()}", str(error), scrubber=scrubber)
            finally:
                await sink.close()
    finally:
        await client.close()
    return 0 if failures == 0 else 1
