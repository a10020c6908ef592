"""Settings: defaults, names checked against the naming rules, auth styles, Cloud ID, TLS files."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from forwarder.records import LogType
from forwarder.sinks.elasticsearch import ElasticsearchSettings
from forwarder.sinks.elasticsearch.cloud_id import CloudIdError, decode_cloud_id
from forwarder.sinks.elasticsearch.request import authorization_header
from forwarder.sinks.elasticsearch.settings import data_stream_name_problems, index_name_problems

URL = "https://es.example.com:9200"


def settings(**values: object) -> ElasticsearchSettings:
    return ElasticsearchSettings(**({"url": URL} | values))  # type: ignore[arg-type]


def test_defaults_are_what_elastic_users_expect() -> None:
    defaults = settings()
    assert defaults.format == "ecs"
    assert defaults.batch_max_bytes == 10_000_000
    assert defaults.target_type == "data_stream"
    assert defaults.target_access_requests == "logs-cloudflare.access_requests-default"
    assert defaults.target_scim_updates == "logs-cloudflare.scim_updates-default"
    assert defaults.target_audit_logs == "logs-cloudflare.audit_logs-default"
    assert defaults.gzip is True
    assert defaults.bootstrap_template is False
    assert defaults.tls_insecure is False


def test_every_field_is_described_for_the_readme() -> None:
    missing = [name for name, field in ElasticsearchSettings.model_fields.items() if not field.description]
    assert missing == []


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "api_key"
    secret.write_text("id1:key1\n")
    monkeypatch.setenv("FORWARDER_ELASTICSEARCH__URL", URL)
    monkeypatch.setenv("FORWARDER_ELASTICSEARCH__API_KEY_FILE", str(secret))
    monkeypatch.setenv("FORWARDER_ELASTICSEARCH__TARGET_ACCESS_REQUESTS", "logs-cf.access-prod")
    monkeypatch.setenv("FORWARDER_ELASTICSEARCH__TEMPLATE_COMPOSED_OF", '["logs@settings"]')
    loaded = ElasticsearchSettings()
    assert loaded.api_key is not None
    assert loaded.api_key.get_secret_value() == "id1:key1"
    assert loaded.target_access_requests == "logs-cf.access-prod"
    assert loaded.template_composed_of == ["logs@settings"]
    assert loaded.base_url() == URL


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Logs-cf-default", "lowercase"),
        ("logs-cf access-default", "' '"),
        ("logs-cf*-default", "'*'"),
        ("logs-cf:x-default", "':'"),
        ("-logs", "start with '-'"),
        ("_logs", "start with '_'"),
        ("+logs", "start with '+'"),
        ("..", "'.' or '..'"),
        ("l" * 256, "255 bytes"),
        ("", "empty"),
    ],
)
def test_index_name_rules(name: str, problem: str) -> None:
    assert any(problem in found for found in index_name_problems(name))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("cloudflare-access", "naming scheme"),
        ("logs-cloudflare-access-default", "naming scheme"),
        ("logs--default", "naming scheme"),
        ("events-cloudflare.access-default", "type 'events'"),
        (".ds-logs-x-default", "'.ds-'"),
        (f"logs-{'d' * 101}-default", "dataset"),
        (f"logs-cf-{'n' * 101}", "namespace"),
    ],
)
def test_data_stream_naming_scheme(name: str, problem: str) -> None:
    assert any(problem in found for found in data_stream_name_problems(name))


@pytest.mark.parametrize(
    "name",
    ["logs-cloudflare.access_requests-default", "logs-cloudflare.scim_updates-prod_eu", "metrics-a.b-c"],
)
def test_valid_data_stream_names(name: str) -> None:
    assert data_stream_name_problems(name) == []


def test_bad_target_names_the_variable_at_start() -> None:
    with pytest.raises(ValidationError) as raised:
        settings(target_scim_updates="Cloudflare SCIM")
    message = str(raised.value)
    assert "FORWARDER_ELASTICSEARCH__TARGET_SCIM_UPDATES 'Cloudflare SCIM'" in message
    assert "lowercase" in message


def test_plain_index_names_need_no_scheme() -> None:
    assert settings(target_type="index", target_access_requests="cloudflare-access").target_type == "index"


def test_all_problems_are_reported_at_once_without_secrets() -> None:
    with pytest.raises(ValidationError) as raised:
        ElasticsearchSettings(
            api_key="s3cr3t-key", bearer_token="t0ken-value", target_access_requests="BAD", username="u"
        )
    message = str(raised.value)
    for expected in (
        "URL",
        "CLOUD_ID",
        "API_KEY",
        "BEARER_TOKEN",
        "PASSWORD go together",
        "TARGET_ACCESS_REQUESTS",
    ):
        assert expected in message
    assert "s3cr3t" not in message
    assert "t0ken" not in message


def test_url_and_cloud_id_are_exclusive() -> None:
    cloud_id = "x:" + base64.b64encode(b"example.io$abc$def").decode()
    with pytest.raises(ValidationError, match="exactly one"):
        settings(cloud_id=cloud_id)
    assert ElasticsearchSettings(cloud_id=cloud_id).base_url() == "https://abc.example.io:443"


@pytest.mark.parametrize(
    ("cloud_id", "url"),
    [
        (
            # The example from Elastic's Beats documentation.
            "staging:dXMtZWFzdC0xLmF3cy5mb3VuZC5pbyRjZWM2ZjI2MWE3NGJmMjRjZTMzYmI4ODExYjg0Mjk0ZiRjNmMyY2E2ZDA0"
            "MjI0OWFmMGNjN2Q3YTllOTYyNTc0Mw==",
            "https://cec6f261a74bf24ce33bb8811b84294f.us-east-1.aws.found.io:443",
        ),
        ("label:" + base64.b64encode(b"host.example:9243$es1$kb1").decode(), "https://es1.host.example:9243"),
        ("label:" + base64.b64encode(b"host.example$es1:9244$kb1").decode(), "https://es1.host.example:9244"),
        (
            "label:" + base64.b64encode(b"host.example:9243$es1:9244$kb1").decode(),
            "https://es1.host.example:9244",
        ),
        (base64.b64encode(b"host.example$es1").decode().rstrip("="), "https://es1.host.example:443"),
        (":" + base64.b64encode(b"h.io$es$kb").decode(), "https://es.h.io:443"),
    ],
)
def test_cloud_id_decoding(cloud_id: str, url: str) -> None:
    assert decode_cloud_id(cloud_id) == url


@pytest.mark.parametrize(
    ("cloud_id", "problem"),
    [
        ("", "empty"),
        ("label:not base64!", "not base64"),
        ("label:" + base64.b64encode(b"onlyhost").decode(), "host and an Elasticsearch id"),
        ("label:" + base64.b64encode(b"host:99999$es$kb").decode(), "port"),
        ("label:" + base64.b64encode(b"bad host$es$kb").decode(), "DNS name"),
        ("label:" + base64.b64encode(b"\xff\xfe$es").decode(), "not base64 text"),
    ],
)
def test_cloud_id_errors(cloud_id: str, problem: str) -> None:
    with pytest.raises(CloudIdError, match=problem):
        decode_cloud_id(cloud_id)


@pytest.mark.parametrize(
    ("values", "header"),
    [
        (
            {"api_key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ),
        (
            {"api_key": "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw"},
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ),
        (
            {"username": "elastic", "password": "pässword"},
            "Basic " + base64.b64encode("elastic:pässword".encode()).decode(),
        ),
        (
            {"bearer_token": "AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2VuLTE"},
            "Bearer AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2VuLTE",
        ),
        ({}, None),
    ],
)
def test_authorization_header(values: dict[str, str], header: str | None) -> None:
    assert authorization_header(settings(**values)) == header


def test_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(ca_bundle=tmp_path / "missing.pem", tls_insecure=True, client_key=tmp_path / "key.pem")
    message = str(raised.value)
    assert "FORWARDER_ELASTICSEARCH__CA_BUNDLE" in message
    assert "not a readable file" in message
    assert "contradict" in message
    # The unset partner is named by its current name, the one to set now.
    assert "FORWARDER_ELASTICSEARCH__CLIENT_KEY needs FORWARDER_ELASTICSEARCH__TLS_CERT_FILE" in message


def test_a_user_and_password_in_the_url_are_used_as_username_and_password() -> None:
    built = ElasticsearchSettings(url="https://elastic:p%40ss%20word@es.example:9200", api_key=None)
    assert str(built.url) == "https://es.example:9200/"
    assert built.username == "elastic"
    assert built.password is not None
    assert built.password.get_secret_value() == "p@ss word"
    assert authorization_header(built) == "Basic " + base64.b64encode(b"elastic:p@ss word").decode()


@pytest.mark.parametrize("other", [{"username": "x", "password": "y"}, {"api_key": "k" * 20}])
def test_credentials_in_the_url_and_in_settings_at_once_are_refused(other: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ElasticsearchSettings(url="https://elastic:hunter22@es.example:9200", **other)  # type: ignore[arg-type]
    assert "hunter22" not in str(caught.value)
    assert "FORWARDER_ELASTICSEARCH__" in str(caught.value)


def test_check_verifies_the_audit_target_only_once_it_is_set() -> None:
    # Audit logs are off by default: a role scoped to the two default data streams must pass `check`.
    assert settings().checked_targets() == [
        "logs-cloudflare.access_requests-default",
        "logs-cloudflare.scim_updates-default",
    ]
    chosen = settings(target_audit_logs="logs-cloudflare.audit_logs-default")
    assert "logs-cloudflare.audit_logs-default" in chosen.checked_targets()
    assert chosen.target_for(LogType.AUDIT_LOGS) == "logs-cloudflare.audit_logs-default"
