"""Settings from the environment, the token from a file, and nothing secret in what is printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from forwarder.settings.loading import describe_errors
from forwarder.sinks.base import load_sink_class
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink

SECRET = "f00dfeed-0000-4000-8000-5ec2e75ec2e7"


def test_the_entry_point_finds_the_sink() -> None:
    sink_class = load_sink_class("splunk_hec")
    assert sink_class is SplunkHecSink
    assert sink_class.name == "splunk_hec"
    assert sink_class.settings_model is SplunkHecSettings


def test_every_setting_is_described_for_the_readme() -> None:
    undocumented = [name for name, info in SplunkHecSettings.model_fields.items() if not info.description]
    assert undocumented == []


def test_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__URL", "https://splunk.example:8088")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__TOKEN", SECRET)
    settings = SplunkHecSettings()
    assert settings.batch_max_bytes == 1_000_000
    assert settings.gzip is True
    assert settings.acknowledgements is False
    assert settings.ack_timeout == 300.0
    assert settings.tls_insecure is False
    assert settings.sourcetype_access_requests == "cloudflare:access"
    assert settings.sourcetype_scim_updates == "cloudflare:access:scim"
    assert settings.sourcetype_audit_logs == "cloudflare:audit"


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__URL", "https://splunk.example:8088")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__TOKEN_FILE", str(token_file))
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__FIELDS", '{"env":"prod","team":"sec"}')
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__INDEX_SCIM_UPDATES", "cf_scim")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__GZIP", "false")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__ACKNOWLEDGEMENTS", "true")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__BATCH_MAX_BYTES", "500000")
    settings = SplunkHecSettings()
    assert settings.token.get_secret_value() == SECRET
    assert settings.fields == {"env": "prod", "team": "sec"}
    assert settings.index_scim_updates == "cf_scim"
    assert settings.gzip is False
    assert settings.acknowledgements is True
    assert settings.batch_max_bytes == 500_000


def test_nested_indexed_fields_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__URL", "https://splunk.example:8088")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__TOKEN", SECRET)
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__FIELDS", '{"env":{"nested":"no"}}')
    with pytest.raises(ValidationError, match="fields"):
        SplunkHecSettings()


def test_a_blank_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="token"):
        SplunkHecSettings(url="https://splunk.example:8088", token="  ")


def test_nothing_printed_shows_the_token_or_url_credentials() -> None:
    settings = SplunkHecSettings(
        url="https://splunk.example:8088/",
        token=SECRET,
        client_key_password="pw-secret",
    )
    sink = SplunkHecSink(settings)
    for text in (sink.describe(), repr(settings), str(settings)):
        assert SECRET not in text
        assert "pw-secret" not in text
    assert sink.describe() == (
        "splunk_hec (raw) to https://splunk.example:8088/services/collector/event, gzip, "
        "indexer acknowledgement off, system CAs"
    )


def test_a_user_and_password_in_the_url_are_refused_not_used_in_place_of_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__URL", "https://user:hunter2@splunk.example:8088/")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__TOKEN", SECRET)
    with pytest.raises(ValidationError) as caught:
        SplunkHecSettings()
    problems = describe_errors(SplunkHecSettings, caught.value)
    assert problems == [
        "FORWARDER_SPLUNK_HEC__URL: must not carry a user or password (the value is not shown): HEC "
        "authenticates with FORWARDER_SPLUNK_HEC__TOKEN; remove them from the URL"
    ]


@pytest.mark.parametrize("token", ["", "abc def", "abc\x01def"])
def test_a_broken_token_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SplunkHecSettings(url="https://splunk.example:8088/", token=token)
    problems = describe_errors(SplunkHecSettings, caught.value)
    assert len(problems) == 1
    assert problems[0].startswith("FORWARDER_SPLUNK_HEC__TOKEN: ")
    assert token.strip() == "" or token not in problems[0]
