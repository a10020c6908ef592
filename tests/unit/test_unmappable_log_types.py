"""A log type a sink cannot carry, or a format cannot map, is refused at start: never misdelivered."""

from __future__ import annotations

import pytest

from forwarder.records import LogType
from forwarder.settings import ConfigurationError, load_config, loading
from forwarder.sinks.sentinel import SentinelSettings, SentinelSink

BASE = {
    "CLOUDFLARE_API_TOKEN": "t0k3n",
    "FORWARDER_ACCOUNT_IDS": "023e105f4ecef8ad9ca31a8372d0c353",
}
SENTINEL = {
    "FORWARDER_SINKS": "sentinel",
    "FORWARDER_SENTINEL__URL": "https://dce.westeurope-1.ingest.monitor.azure.com",
    "FORWARDER_SENTINEL__RULE_ID": "dcr-0123456789abcdef0123456789abcdef",
    "FORWARDER_SENTINEL__TENANT_ID": "00000000-0000-0000-0000-000000000001",
    "FORWARDER_SENTINEL__CLIENT_ID": "00000000-0000-0000-0000-000000000002",
    "FORWARDER_SENTINEL__CLIENT_SECRET": "s3cret",
}


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in (BASE | env).items():
        monkeypatch.setenv(name, value)


def test_a_sink_refuses_a_log_type_it_has_no_destination_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every sink carries every log type today; the rule stays for the next one that cannot.
    monkeypatch.setattr(SentinelSink, "log_types", frozenset({LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES}))
    configure(monkeypatch, **SENTINEL, FORWARDER_LOG_TYPES="access_requests,audit_logs")
    with pytest.raises(ConfigurationError) as refused:
        load_config()
    assert refused.value.problems == [
        "FORWARDER_LOG_TYPES: the sentinel sink cannot carry audit_logs yet; "
        "leave it out, or send it to another sink"
    ]


def test_sentinel_carries_audit_logs_in_asim(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, **SENTINEL, FORWARDER_LOG_TYPES="access_requests,audit_logs")
    (sink,) = load_config().sinks
    assert sink.sink_class is SentinelSink
    assert str(getattr(sink.settings, "format", "")) == "asim"
    assert isinstance(sink.settings, SentinelSettings)
    assert sink.settings.stream_for(LogType.AUDIT_LOGS) == "Custom-CloudflareAuditEvent"


def test_a_format_without_a_mapping_for_a_log_type_is_refused_in_any_sink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No pair is unmapped today; the rule stays for the next log type a format cannot map yet.
    monkeypatch.setattr(loading, "UNMAPPED", {("asim", "audit_logs"): "no mapping yet"})
    configure(
        monkeypatch, FORWARDER_SINKS="file", FORWARDER_FILE__FORMAT="asim", FORWARDER_LOG_TYPES="audit_logs"
    )
    with pytest.raises(ConfigurationError) as refused:
        load_config()
    assert refused.value.problems == [
        "FORWARDER_FILE__FORMAT: asim cannot carry audit_logs (no mapping yet); choose ecs "
        "or ocsf for this sink, or leave audit_logs out of FORWARDER_LOG_TYPES"
    ]


def test_asim_carries_audit_logs_as_audit_events(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        monkeypatch, FORWARDER_SINKS="file", FORWARDER_FILE__FORMAT="asim", FORWARDER_LOG_TYPES="audit_logs"
    )
    config = load_config()
    assert [str(log_type) for log_type in config.settings.log_types] == ["audit_logs"]
    assert [str(getattr(sink.settings, "format", "")) for sink in config.sinks] == ["asim"]


def test_the_default_log_types_load_with_sentinel(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, **SENTINEL)
    config = load_config()
    assert [sink.sink_class.name for sink in config.sinks] == ["sentinel"]
