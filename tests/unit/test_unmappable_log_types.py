"""A log type a sink cannot carry, or a format cannot map, is refused at start: never misdelivered."""

from __future__ import annotations

import pytest

from forwarder.settings import ConfigurationError, load_config

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


def test_sentinel_refuses_audit_logs_it_has_no_stream_for(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, **SENTINEL, FORWARDER_LOG_TYPES="access_requests,audit_logs")
    with pytest.raises(ConfigurationError) as refused:
        load_config()
    assert refused.value.problems == [
        "FORWARDER_LOG_TYPES: the sentinel sink cannot carry audit_logs yet; "
        "leave it out, or send it to another sink"
    ]


def test_asim_refuses_audit_logs_in_any_sink(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    configure(
        monkeypatch, FORWARDER_SINKS="file", FORWARDER_FILE__FORMAT="asim", FORWARDER_LOG_TYPES="audit_logs"
    )
    with pytest.raises(ConfigurationError) as refused:
        load_config()
    assert refused.value.problems == [
        "FORWARDER_FILE__FORMAT: asim cannot carry audit_logs (no ASIM Audit Event mapping yet); choose ecs "
        "or ocsf for this sink, or leave audit_logs out of FORWARDER_LOG_TYPES"
    ]


def test_the_default_log_types_load_with_sentinel(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, **SENTINEL)
    config = load_config()
    assert [sink.sink_class.name for sink in config.sinks] == ["sentinel"]
