"""The forwarder, simulator to a fake Datadog intake, through the real pipeline: retries after
Retry-After and resets, a poison event found and dead-lettered, nothing lost."""

from __future__ import annotations

from pathlib import Path

from fakes.http_intake import FakeIntake, Reset, busy, proxy_answer
from forwarder.sinks.http import HttpSettings, HttpSink
from tests.support.sink_runs import assert_none_lost, run_into


async def test_every_record_reaches_datadog_or_the_dead_letters_under_faults(tmp_path: Path) -> None:
    intake = FakeIntake("datadog")
    intake.inject(busy("0"), Reset(), proxy_answer(502), Reset(after_taking=True))
    poison: set[str] = set()

    def refuse(event: object) -> bool:
        # The intake refuses one record (400), as it would one it cannot parse.
        if isinstance(event, dict) and not poison:
            poison.add(str(event["_forwarder"]["event_id"]))
        return isinstance(event, dict) and event["_forwarder"]["event_id"] in poison

    intake.refuse = refuse
    async with intake.serve():
        settings = HttpSettings(
            preset="datadog", url=intake.endpoint, api_key=intake.key, batch_max_events=100
        )
        _, dead, owed = await run_into(HttpSink, settings, tmp_path)

    assert_none_lost(owed, intake.ids(), dead)
    assert set(dead) == poison
    assert "HTTP 400" in dead[poison.pop()]
