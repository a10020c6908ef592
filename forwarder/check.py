"""`check`: prove the configuration works before it runs: the variables, the token, Cloudflare, every sink."""

from __future__ import annotations

import os
import sys

from forwarder.app import Forwarder, Parts
from forwarder.builders import make_client
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.records import LogType
from forwarder.scrubbing import Scrubber
from forwarder.settings import Config
from forwarder.settings.known_names import unknown_variables
from forwarder.sinks.base import SinkError
from forwarder.source.client import CloudflareClient
from forwarder.source.errors import CloudflareError
from forwarder.source.token_verification import verify_token

# A retryable failure is retried a few times, then reported: `check` must answer.
ATTEMPTS = 3


class Report:
    """The lines `check` prints, one per thing checked, and how many failed."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber
        self.failures = 0

    def say(self, ok: bool, what: str, detail: str = "", *, mark: str = "") -> None:
        self.failures += 0 if ok else 1
        mark = mark or ("ok  " if ok else "FAIL")
        line = f"{mark} {what}{': ' + detail if detail else ''}"
        print(self.scrubber.text(line), file=sys.stdout, flush=True)


async def run_check(config: Config) -> int:
    report = Report(Scrubber.from_config(config))
    # A variable no setting reads changes nothing: in `check` that is a failure, not a footnote.
    configured = [sink.sink_class.settings_model for sink in config.sinks]
    for problem in unknown_variables(os.environ, configured=configured):
        report.say(False, "environment", problem)
    client = make_client(config.settings, attempts=ATTEMPTS)
    try:
        if await check_token(client, config, report):
            await check_streams(client, config, report)
        await check_sinks(config, report)
    finally:
        await client.close()
    return 0 if report.failures == 0 else 1


async def check_token(client: CloudflareClient, config: Config, report: Report) -> bool:
    """Whether the token works at all; a 403 from a log endpoint cannot tell a bad token from a missing
    permission, so the verify endpoints are asked first. False skips the streams' misleading 403s."""
    try:
        verdict = await verify_token(client, config.settings.account_ids)
    except CloudflareError as error:
        # Unreachable or rate limited: the streams below say more; the token is not judged.
        report.say(True, "Cloudflare API token", f"not verified ({error})", mark="warn")
        return True
    report.say(verdict.usable, "Cloudflare API token", verdict.message)
    if verdict.warning:
        report.say(True, "Cloudflare API token", f"warning: {verdict.warning}", mark="warn")
    if not verdict.usable:
        report.say(False, "Cloudflare streams", "not read: the token above cannot work")
    return verdict.usable


async def check_streams(client: CloudflareClient, config: Config, report: Report) -> None:
    forwarder = Forwarder.build(config, Parts(sinks=[], checkpoints=MemoryCheckpointStore(), client=client))
    for stream in forwarder.streams:
        what = f"Cloudflare {stream.log_type.value} of account {stream.account_id}"
        try:
            idps = await stream.probe()
        except CloudflareError as error:
            report.say(False, what, str(error))
            continue
        if stream.log_type is LogType.SCIM_UPDATES:
            detail = f"readable ({idps} SCIM identity providers)" if idps else "no SCIM IdP yet"
        else:
            detail = "readable"
        report.say(True, what, detail)


async def check_sinks(config: Config, report: Report) -> None:
    for sink_config in config.sinks:
        sink = sink_config.build()
        try:
            await sink.open()
            await sink.check()
            report.say(True, f"sink {sink.describe()}")
            for warning in sink.warnings():
                report.say(True, f"sink {sink.describe()}", f"warning: {warning}", mark="warn")
        except SinkError as error:
            report.say(False, f"sink {sink.describe()}", str(error))
        finally:
            await sink.close()
