"""The otlp sink's settings: its own variables, the standard OTEL_EXPORTER_OTLP_LOGS_* ones, and the
messages a person reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forwarder.settings.loading import describe_errors
from forwarder.sinks.otlp.settings import OtlpSettings, env_var, parse_standard_headers

STANDARD = {
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://collector.example.com:4318/v1/logs",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "api-key=s%3Dcret,X-Scope-OrgID=tenant1",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "2500",
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "none",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
    "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE": "/etc/ca.pem",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE": "/etc/client.pem",
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": "/etc/client.key",
}


def test_defaults_follow_the_specification() -> None:
    settings = OtlpSettings()
    assert str(settings.endpoint) == "http://localhost:4318/v1/logs"
    assert settings.protocol == "http/protobuf"
    assert settings.compression == "gzip"


def test_the_standard_variables_configure_the_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STANDARD.items():
        monkeypatch.setenv(name, value)
    settings = OtlpSettings()
    assert str(settings.endpoint) == STANDARD["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"]
    assert {name: value.get_secret_value() for name, value in settings.headers.items()} == {
        "api-key": "s=cret",
        "X-Scope-OrgID": "tenant1",
    }
    assert settings.request_timeout == 2.5
    assert settings.compression == "none"
    assert settings.protocol == "http/json"
    assert (str(settings.tls_ca_file), str(settings.tls_cert_file), str(settings.tls_key_file)) == (
        "/etc/ca.pem",
        "/etc/client.pem",
        "/etc/client.key",
    )


def test_the_forwarders_own_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "https://standard.example.com/v1/logs")
    monkeypatch.setenv("FORWARDER_OTLP__ENDPOINT", "https://own.example.com/v1/logs")
    assert OtlpSettings().endpoint.host == "own.example.com"


def test_the_signal_less_variables_are_the_forwarders_own_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://metrics.example.com")
    assert OtlpSettings().endpoint.host == "localhost"


def test_an_endpoint_without_a_path_gets_the_logs_path() -> None:
    assert str(OtlpSettings(endpoint="https://collector:4318").endpoint) == "https://collector:4318/v1/logs"
    assert str(OtlpSettings(endpoint="https://gw/otlp/v1/logs").endpoint) == "https://gw/otlp/v1/logs"


def test_grpc_is_refused_with_the_way_out() -> None:
    with pytest.raises(ValidationError, match="grpc is not supported: use http/protobuf"):
        OtlpSettings(protocol="grpc")


def test_credentials_in_the_endpoint_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDER_OTLP__ENDPOINT", "https://user:hunter2@collector/v1/logs")
    with pytest.raises(ValidationError) as raised:
        OtlpSettings()
    assert describe_errors(OtlpSettings, raised.value) == [
        "FORWARDER_OTLP__ENDPOINT: must not carry a user or password (the value is not shown): put "
        "credentials in FORWARDER_OTLP__HEADERS"
    ]


def test_standard_headers_that_are_not_pairs_are_refused_without_the_value() -> None:
    with pytest.raises(ValueError, match="pair 2 is not key=value") as raised:
        parse_standard_headers("a=b,secretvalue")
    assert "secretvalue" not in str(raised.value)


def test_a_timeout_that_is_not_milliseconds_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "10s")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_LOGS_TIMEOUT must be a number of milliseconds"):
        OtlpSettings()


def test_the_kits_address_setting_is_the_endpoint() -> None:
    assert env_var("url") == "FORWARDER_OTLP__ENDPOINT"
    assert env_var("tls_ca_file") == "FORWARDER_OTLP__TLS_CA_FILE"
