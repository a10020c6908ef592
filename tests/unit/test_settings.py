"""Settings: every variable, `_FILE` secrets, and one message listing every problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forwarder.records import LogType
from forwarder.settings import ConfigurationError, load_config, parse_duration, resolve_start

ACCOUNT = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("CLOUDFLARE_", "FORWARDER_")):
            monkeypatch.delenv(name)


def test_minimal_configuration_has_sensible_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t0ken")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    config = load_config()
    settings = config.settings
    assert settings.account_ids == [ACCOUNT]
    assert settings.log_types == [LogType.ACCESS_REQUESTS, LogType.SCIM_UPDATES]
    assert settings.cloudflare_api_base_url == "https://api.cloudflare.com/client/v4"
    assert settings.sinks == ["file"]
    assert [sink.sink_class.name for sink in config.sinks] == ["file"]


def test_lists_durations_and_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    other = "fedcba9876543210fedcba9876543210"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", f"{ACCOUNT}, {other} {ACCOUNT}")
    monkeypatch.setenv("FORWARDER_LOG_TYPES", "scim_updates")
    monkeypatch.setenv("FORWARDER_SCIM_IDP_IDS", "a,b")
    monkeypatch.setenv("FORWARDER_POLL_INTERVAL", "5m")
    monkeypatch.setenv("FORWARDER_OVERLAP", "90")
    monkeypatch.setenv("FORWARDER_FILE__PATH", str(tmp_path / "out.ndjson"))
    config = load_config()
    settings = config.settings
    assert settings.cloudflare_api_token is not None
    assert settings.cloudflare_api_token.get_secret_value() == "from-a-file"
    assert settings.account_ids == [ACCOUNT, other]
    assert settings.log_types == [LogType.SCIM_UPDATES]
    assert settings.scim_idp_ids == ["a", "b"]
    assert settings.poll_interval == 300.0
    assert settings.overlap == 90.0
    assert config.sinks[0].settings.path == str(tmp_path / "out.ndjson")  # type: ignore[attr-defined]


def test_every_problem_is_reported_at_once_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", "not-an-account")
    monkeypatch.setenv("FORWARDER_POLL_INTERVAL", "soon")
    monkeypatch.setenv("FORWARDER_START_AT", "yesterday")
    monkeypatch.setenv("FORWARDER_LOG_TYPES", "access_requests,dns")
    monkeypatch.setenv("FORWARDER_SINKS", "file,nowhere")
    monkeypatch.setenv("FORWARDER_FILE__BATCH_MAX_EVENTS", "0")
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    text = str(caught.value)
    for variable in (
        "FORWARDER_ACCOUNT_IDS",
        "FORWARDER_POLL_INTERVAL",
        "FORWARDER_START_AT",
        "FORWARDER_LOG_TYPES",
        "FORWARDER_FILE__BATCH_MAX_EVENTS",
    ):
        assert f"{variable}: " in text, text
    assert "sink 'nowhere' cannot be loaded" in text
    assert "installed sinks:" in text


def test_missing_credentials_and_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert caught.value.problems == [
        "FORWARDER_ACCOUNT_IDS: set at least one Cloudflare account id",
        "CLOUDFLARE_API_TOKEN: set an API token (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL)",
    ]
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "k")
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert caught.value.problems == ["CLOUDFLARE_EMAIL: required with CLOUDFLARE_API_KEY"]


def test_secrets_never_appear_in_errors_or_reprs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "sup3r-s3cret-value"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", secret)
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    settings = load_config().settings
    assert secret not in repr(settings)
    assert secret not in str(settings)
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", secret)
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    # The bad account id is named (it is not a secret), the token never is.
    assert str(caught.value).count(secret) == 1
    assert "CLOUDFLARE_API_TOKEN" not in str(caught.value)


def test_file_and_value_together_or_unreadable_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "x")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert caught.value.problems == [
        "CLOUDFLARE_API_TOKEN_FILE: set together with CLOUDFLARE_API_TOKEN; set only one"
    ]
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    with pytest.raises(ConfigurationError) as caught:
        load_config()
    assert caught.value.problems[0].startswith("CLOUDFLARE_API_TOKEN_FILE: cannot read")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("250ms", 0.25), ("1.5h", 5400)],
)
def test_durations(text: str, expected: float) -> None:
    assert parse_duration(text).total_seconds() == expected


def test_start_at_forms() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert resolve_start("now", now) == now
    assert resolve_start("24h", now) == now - timedelta(hours=24)
    assert resolve_start("2026-11-01T00:00:00Z", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert resolve_start("2026-11-01T02:00:00+02:00", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        resolve_start("last week", now)
