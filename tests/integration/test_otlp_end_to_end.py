"""The forwarder, simulator to fake Collector, through the real pipeline: the sink's verdicts (retry
after Retry-After, resets, partial success) become waits, resends and dead letters, and the checkpoint
moves only past events the Collector took or the dead letters hold."""

from __future__ import annotations

from pathlib import Path

from fakes.otlp_collector import FakeCollector, Reset, throttled, unavailable
from forwarder.sinks.otlp import OtlpSettings, OtlpSink
from tests.support.forwarder_runs import ACCOUNT
from tests.support.otlp_support import API_KEY
from tests.support.sink_runs import assert_none_lost, run_into


async def test_every_record_reaches_the_collector_or_the_dead_letters_under_faults(tmp_path: Path) -> None:
    collector = FakeCollector(required_headers={"api-key": API_KEY})
    collector.inject(unavailable("0"), Reset(), throttled("0"), Reset(after_taking=True))
    # Denied requests are refused by the Collector (a partial success): they must end in the dead letters.
    collector.refuse = lambda record: record.severity_text == "WARN"
    async with collector.serve():
        settings = OtlpSettings(
            endpoint=collector.endpoint, headers={"api-key": API_KEY}, batch_max_events=50
        )
        _, dead, owed = await run_into(OtlpSink, settings, tmp_path)

    assert_none_lost(owed, collector.uids(), dead)
    assert any("partial success" in reason for reason in dead.values())
    # Every record at the Collector carries the account and the service on its Resource.
    assert {log.resource["cloud.account.id"] for log in collector.received} == {ACCOUNT}
    assert {log.resource["service.name"] for log in collector.received} == {"cloudflare-siem-forwarder"}
