"""Syslog settings from the environment, and the messages the sink builds from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from forwarder.formats import encoder_for, to_raw
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event, SinkConfigError, load_sink_class
from forwarder.sinks.syslog import SyslogSettings, SyslogSink
from forwarder.sinks.syslog.settings import Facility, Severity


def event(log_type: LogType = LogType.ACCESS_REQUESTS, **data: Any) -> Event:
    record = make_record(log_type, "acc", data, observed=datetime(2024, 1, 1, tzinfo=UTC))
    document = to_raw(record)
    return Event(record=record, body=orjson.dumps(document))


def test_entry_point_loads_the_sink() -> None:
    assert load_sink_class("syslog") is SyslogSink


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDER_SYSLOG__HOST", "siem.example")
    monkeypatch.setenv("FORWARDER_SYSLOG__TRANSPORT", "tls")
    monkeypatch.setenv("FORWARDER_SYSLOG__FACILITY", "AUTHPRIV")
    monkeypatch.setenv("FORWARDER_SYSLOG__SEVERITY_FAILURE", "err")
    monkeypatch.setenv("FORWARDER_SYSLOG__SEVERITY_SUCCESS", "5")
    settings = SyslogSettings()
    assert settings.effective_port == 6514
    assert settings.facility is Facility.AUTHPRIV
    assert settings.severity_failure is Severity.ERR
    assert settings.severity_success is Severity.NOTICE
    assert settings.server_name == "siem.example"


def test_every_field_is_documented() -> None:
    assert all(field.description for field in SyslogSettings.model_fields.values())


def test_key_password_comes_from_a_file_and_stays_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    monkeypatch.setenv("FORWARDER_SYSLOG__HOST", "siem")
    monkeypatch.setenv("FORWARDER_SYSLOG__TLS_KEY_PASSWORD_FILE", str(secret))
    settings = SyslogSettings()
    assert settings.tls_key_password is not None
    assert settings.tls_key_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("facility", "local9", "not one of"),
        ("severity_failure", "loud", "not one of"),
        ("hostname", "has space", "printable ASCII"),
        ("app_name", "a" * 49, "at most 48"),
        ("sd_id", "bad id", "SD-ID"),
        ("leef_delimiter", "=", "LEEF delimiter"),
        ("udp_max_message_size", "100", "greater than or equal to 480"),
        ("transport", "sctp", "udp"),
    ],
)
def test_bad_settings_name_the_problem(field: str, value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        SyslogSettings.model_validate({"host": "siem", field: value})


def test_key_without_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="TLS_CERT_FILE"):
        SyslogSettings(host="siem", tls_key_file="/k.pem")


async def test_unreadable_ca_file_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    sink = SyslogSink(SyslogSettings(host="siem", transport="tls", tls_ca_file=str(bad)))
    with pytest.raises(SinkConfigError, match="FORWARDER_SYSLOG__TLS_CA_FILE"):
        await sink.open()
    missing = SyslogSink(SyslogSettings(host="siem", transport="tls", tls_ca_file=str(tmp_path / "nope.pem")))
    with pytest.raises(SinkConfigError, match=r"FORWARDER_SYSLOG__TLS_CA_FILE.*No such file"):
        await missing.open()


async def test_unloadable_client_certificate_is_a_config_error(tmp_path: Path) -> None:
    sink = SyslogSink(
        SyslogSettings(host="siem", transport="tls", tls_cert_file=str(tmp_path / "client.pem"))
    )
    with pytest.raises(SinkConfigError, match="FORWARDER_SYSLOG__TLS_CERT_FILE"):
        await sink.open()


def test_denied_login_ranks_above_an_allowed_one() -> None:
    sink = SyslogSink(SyslogSettings(host="siem", hostname="fwd", facility="local3"))
    denied = sink.message(event(allowed=False)).encode()
    allowed = sink.message(event(allowed=True)).encode()
    assert denied.startswith(b"<156>1 ")  # local3 (19) * 8 + warning (4)
    assert allowed.startswith(b"<158>1 ")  # local3 (19) * 8 + info (6)


def test_failed_scim_change_uses_the_failure_severity() -> None:
    sink = SyslogSink(SyslogSettings(host="siem", severity_failure="crit", severity_success="debug"))
    assert sink.message(event(LogType.SCIM_UPDATES, status="FAILURE")).encode().startswith(b"<130>1 ")
    assert sink.message(event(LogType.SCIM_UPDATES, status="SUCCESS")).encode().startswith(b"<135>1 ")


def test_5424_message_of_an_event() -> None:
    sink = SyslogSink(SyslogSettings(host="siem", hostname="fwd", app_name="cfa"))
    item = event(user_email='a"]\\b', allowed=True, created_at="2024-02-03T04:05:06.789Z", ignored=None)
    wire = sink.message(item).encode()
    expected_head = f"<134>1 2024-02-03T04:05:06.789000Z fwd cfa {sink.procid} access_requests "
    sd = f'[cloudflare@32473 event_id="{item.event_id}" log_type="access_requests" account_id="acc" '
    sd += 'user_email="a\\"\\]\\\\b" allowed="true"]'
    assert wire == (expected_head + sd + " ").encode() + item.body


def test_3164_message_has_no_structured_data_or_bom() -> None:
    sink = SyslogSink(SyslogSettings(host="siem", hostname="fwd", rfc="3164", bom="always"))
    item = event(user_email="ü", created_at="2024-02-03T04:05:06Z")
    wire = sink.message(item).encode()
    assert wire == f"<134>Feb  3 04:05:06 fwd cloudflare-access[{sink.procid}]: ".encode() + item.body


def test_structured_data_can_be_turned_off() -> None:
    sink = SyslogSink(SyslogSettings(host="siem", structured_data=False))
    assert b" access_requests - {" in sink.message(event()).encode()


@pytest.mark.parametrize(("payload", "fmt"), [("json", "ecs"), ("cef", "cef"), ("leef", "leef")])
def test_the_payload_setting_chooses_the_format_the_pipeline_encodes(payload: str, fmt: str) -> None:
    sink = SyslogSink(SyslogSettings(host="siem", payload=payload, format="ecs"))
    assert sink.format == fmt


@pytest.mark.parametrize("payload", ["cef", "leef"])
def test_a_cef_or_leef_payload_is_framed_as_the_pipeline_encoded_it(payload: str) -> None:
    sink = SyslogSink(SyslogSettings(host="siem", payload=payload))
    # Bytes no encoder would write: the sink must ship them as they are, not map the record again.
    item = Event(event(allowed=False).record, b"as the pipeline encoded it")
    assert sink.message(item).encode().endswith(b" as the pipeline encoded it")


def test_the_format_setting_takes_document_formats_only() -> None:
    # CEF and LEEF come through `payload`; a JSON sink (HEC, _bulk, file) could not carry them.
    with pytest.raises(ValidationError, match="format"):
        SyslogSettings(host="siem", format="cef")


@pytest.mark.parametrize("payload", ["cef", "leef"])
def test_configured_severities_and_delimiter_reach_the_payload(payload: str) -> None:
    sink = SyslogSink(
        SyslogSettings(
            host="siem",
            payload=payload,
            severity_failure="crit",
            severity_success="notice",
            leef_delimiter="~",
        )
    )
    record = event(allowed=False).record
    # Encoded by the pipeline with the default options: the sink writes its own line instead.
    wire = sink.message(Event(record, encoder_for(sink.format)(record))).encode()
    if payload == "cef":
        assert b"|access_request.failure|Access request denied|8|" in wire
    else:
        assert b"~sev=8~" in wire
    allowed = sink.message(Event(event(allowed=True).record, b"unused")).encode()
    assert (b"|4|" if payload == "cef" else b"~sev=4~") in allowed
