"""Sentinel settings from the environment: defaults that match the template, secrets from files, every
problem at once naming its variable, nothing secret in a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from forwarder.records import LogType
from forwarder.settings.loading import describe_errors
from forwarder.sinks.base import load_sink_class
from forwarder.sinks.sentinel import SentinelSettings, SentinelSink

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "sentinel" / "azuredeploy.json"
SECRET = "s3cr3t~value-never-shown"
REQUIRED = {
    "FORWARDER_SENTINEL__URL": "https://cf-forwarder-a1b2.westeurope-1.ingest.monitor.azure.com",
    "FORWARDER_SENTINEL__RULE_ID": "dcr-00000000000000000000000000000001",
    "FORWARDER_SENTINEL__TENANT_ID": "11111111-1111-4111-8111-111111111111",
    "FORWARDER_SENTINEL__CLIENT_ID": "22222222-2222-4222-8222-222222222222",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def problems_of(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        SentinelSettings(**values)  # type: ignore[arg-type]
    return describe_errors(SentinelSettings, caught.value)


def test_the_entry_point_finds_the_sink() -> None:
    assert load_sink_class("sentinel") is SentinelSink
    assert SentinelSink.settings_model is SentinelSettings


def test_every_setting_is_described_for_the_reference() -> None:
    assert [name for name, info in SentinelSettings.model_fields.items() if not info.description] == []


def test_the_default_streams_are_those_the_template_declares() -> None:
    template = json.loads(DEPLOY.read_text(encoding="utf-8"))
    declared = {
        template["variables"][name]
        for name in ("authenticationStream", "userManagementStream", "auditEventStream")
    }
    settings = SentinelSettings(url="https://x.example", rule_id="dcr-1", credential="managed_identity")
    assert {settings.stream_for(log_type) for log_type in SentinelSink.log_types or ()} == declared
    assert settings.format == "asim"
    assert settings.batch_max_bytes == 1_000_000
    assert settings.scope == "https://monitor.azure.com/.default"


def test_the_client_secret_from_a_file(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    environment.setenv("FORWARDER_SENTINEL__CLIENT_SECRET_FILE", str(secret_file))
    settings = SentinelSettings()
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == SECRET
    assert settings.ingestion_path(LogType.SCIM_UPDATES) == (
        "/dataCollectionRules/dcr-00000000000000000000000000000001/streams/Custom-CloudflareScimUserManagement"
    )
    assert SECRET not in repr(settings)
    assert SECRET not in SentinelSink(settings).describe()


def test_every_problem_at_once_naming_its_variable() -> None:
    problems = problems_of(
        url="https://x.example",
        rule_id="dcr-1",
        credential="client_certificate",
        client_secret=SECRET,
        federated_token_file="/var/run/token",
    )
    assert problems == [
        "FORWARDER_SENTINEL__TENANT_ID is needed with FORWARDER_SENTINEL__CREDENTIAL=client_certificate",
        "FORWARDER_SENTINEL__CLIENT_ID is needed with FORWARDER_SENTINEL__CREDENTIAL=client_certificate",
        "FORWARDER_SENTINEL__CLIENT_CERTIFICATE_FILE is needed with "
        "FORWARDER_SENTINEL__CREDENTIAL=client_certificate",
        "FORWARDER_SENTINEL__CLIENT_SECRET is set but FORWARDER_SENTINEL__CREDENTIAL is client_certificate, "
        "not client_secret",
        "FORWARDER_SENTINEL__FEDERATED_TOKEN_FILE is set but FORWARDER_SENTINEL__CREDENTIAL is "
        "client_certificate, not workload_identity",
    ]
    assert all(SECRET not in problem for problem in problems)


def test_the_endpoint_and_rule_are_required() -> None:
    problems = problems_of(credential="managed_identity")
    assert [problem.split(":")[0] for problem in problems] == [
        "FORWARDER_SENTINEL__URL",
        "FORWARDER_SENTINEL__RULE_ID",
    ]


@pytest.mark.parametrize("rule_id", ["", "dcr 1", "dcr-1/streams/x", "dcr-1?api-version=1"])
def test_an_id_that_is_not_one_path_segment_is_refused(rule_id: str) -> None:
    problems = problems_of(url="https://x.example", rule_id=rule_id, credential="managed_identity")
    assert [problem.split(":")[0] for problem in problems] == ["FORWARDER_SENTINEL__RULE_ID"]


def test_an_id_pasted_with_a_line_break_is_the_id() -> None:
    settings = SentinelSettings(url="https://x.example", rule_id=" dcr-1\n", credential="managed_identity")
    assert settings.rule_id == "dcr-1"


def test_more_than_the_service_takes_per_call_is_refused() -> None:
    problems = problems_of(
        url="https://x.example", rule_id="dcr-1", credential="managed_identity", batch_max_bytes=2_000_000
    )
    assert [problem.split(":")[0] for problem in problems] == ["FORWARDER_SENTINEL__BATCH_MAX_BYTES"]


def test_an_empty_secret_is_refused_without_showing_anything(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("FORWARDER_SENTINEL__CLIENT_SECRET", "  ")
    with pytest.raises(ValidationError) as caught:
        SentinelSettings()
    assert [problem.split(":")[0] for problem in describe_errors(SentinelSettings, caught.value)] == [
        "FORWARDER_SENTINEL__CLIENT_SECRET"
    ]


def test_plain_http_is_warned_about_as_the_token_travels_in_clear() -> None:
    sink = SentinelSink(
        SentinelSettings(url="http://ingest.example", rule_id="dcr-1", credential="managed_identity")
    )
    (warning,) = sink.warnings()
    assert "FORWARDER_SENTINEL__URL" in warning
    assert "Entra ID token" in warning
