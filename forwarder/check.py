"""`check`: prove the configuration works before it runs: Cloudflare answers, every sink too."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from forwarder.cloudflare.errors import CloudflareError
from forwarder.cloudflare.identity_providers import ScimIdentityProviders
from forwarder.cloudflare.paging import Window, WindowReader
from forwarder.records import LogType
from forwarder.runner import make_client
from forwarder.settings import Config
from forwarder.sinks.base import SinkError

# A retryable failure is retried a few times, then reported: `check` must answer.
ATTEMPTS = 3


def say(ok: bool, what: str, detail: str = "") -> None:
    mark = "ok  " if ok else "FAIL"
    print(f"{mark} {what}{': ' + detail if detail else ''}", file=sys.stdout, flush=True)


async def run_check(config: Config) -> int:
    settings = config.settings
    client = make_client(settings, attempts=ATTEMPTS)
    failures = 0
    now = datetime.now(UTC)
    window = Window(since=now - timedelta(minutes=5), until=now)
    try:
        for account_id in settings.account_ids:
            for log_type in settings.log_types:
                what = f"Cloudflare {log_type.value} of account {account_id}"
                try:
                    idp_ids: list[str] = []
                    if log_type is LogType.SCIM_UPDATES:
                        idps = ScimIdentityProviders(
                            client, account_id, settings.scim_idp_ids, settings.idp_refresh_interval
                        )
                        idp_ids = await idps.ids()
                        if not idp_ids:
                            say(True, what, "no SCIM-enabled identity provider; nothing to read yet")
                            continue
                    reader = WindowReader(
                        client, account_id, log_type, window, page_size=1, max_pages=1, idp_ids=idp_ids
                    )
                    async for _ in reader.pages():
                        pass
                    say(True, what, f"readable ({len(idp_ids)} SCIM IdPs)" if idp_ids else "readable")
                except CloudflareError as error:
                    failures += 1
                    say(False, what, str(error))
        for sink_config in config.sinks:
            sink = sink_config.build()
            try:
                await sink.open()
                await sink.check()
                say(True, f"sink {sink.describe()}")
            except SinkError as error:
                failures += 1
                say(False, f"sink {sink.describe()}", str(error))
            finally:
                await sink.close()
    finally:
        await client.close()
    return 0 if failures == 0 else 1
