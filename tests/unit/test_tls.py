"""forwarder.tls: the contexts, their errors, the http:// warning, and the HTTP sinks' former names."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import pytest
import trustme
import truststore

from forwarder.settings import ConfigurationError, load_config
from forwarder.sinks.base import SinkConfigError
from forwarder.sinks.elasticsearch import ElasticsearchSettings, ElasticsearchSink
from forwarder.sinks.file import FileSink, FileSinkSettings
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink
from forwarder.tls import (
    TlsSettingError,
    TlsVariables,
    cleartext_warning,
    client_context,
    describe_trust,
    is_loopback,
)

HEC = "FORWARDER_SPLUNK_HEC__"
ES = "FORWARDER_ELASTICSEARCH__"
TOKEN = "f00dfeed-0000-4000-8000-5ec2e75ec2e7"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
VARIABLES = TlsVariables.with_prefix("FORWARDER_X__")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CLOUDFLARE_", "FORWARDER_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(authority: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


# --- contexts ----------------------------------------------------------------------------------


def test_the_default_trusts_the_os_store() -> None:
    context = client_context(variables=VARIABLES)
    assert isinstance(context, truststore.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_ca_file_replaces_the_os_store(ca_file: Path) -> None:
    context = client_context(ca_file, variables=VARIABLES)
    assert not isinstance(context, truststore.SSLContext)
    # Only the CA of the file: nothing of the machine's own store was loaded.
    assert len(context.get_ca_certs()) == 1
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_verification_off_still_loads_the_files(tmp_path: Path) -> None:
    context = client_context(verify=False, variables=VARIABLES)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False
    with pytest.raises(TlsSettingError, match="FORWARDER_X__TLS_CA_FILE"):
        client_context(tmp_path / "missing.pem", verify=False, variables=VARIABLES)


def test_a_missing_ca_file_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsSettingError) as raised:
        client_context(missing, what="the cluster", variables=VARIABLES)
    assert raised.value.variable == "FORWARDER_X__TLS_CA_FILE"
    assert str(raised.value) == (
        f"FORWARDER_X__TLS_CA_FILE: cannot load CA certificates from {str(missing)!r}: No such file or "
        "directory; give a PEM file with the CA that signed the cluster's certificate"
    )


def test_a_ca_file_that_is_not_pem_names_the_variable(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsSettingError, match=r"^FORWARDER_X__TLS_CA_FILE: cannot load CA certificates"):
        client_context(garbage, variables=VARIABLES)


def test_a_client_certificate_and_its_errors(authority: trustme.CA, tmp_path: Path) -> None:
    issued = authority.issue_cert("forwarder@example.com")
    both = tmp_path / "client.pem"
    issued.private_key_and_cert_chain_pem.write_to_path(str(both))
    client_context(cert_file=both, variables=VARIABLES)
    with pytest.raises(TlsSettingError) as raised:
        client_context(cert_file=tmp_path / "nope.pem", key_password="pw-secret", variables=VARIABLES)
    message = str(raised.value)
    assert message.startswith("FORWARDER_X__TLS_CERT_FILE / FORWARDER_X__TLS_KEY_FILE: cannot load")
    assert "FORWARDER_X__TLS_KEY_PASSWORD if the key is encrypted" in message
    assert "pw-secret" not in message
    with pytest.raises(TlsSettingError, match=r"^FORWARDER_X__TLS_KEY_FILE is set but FORWARDER_X__TLS_CERT"):
        client_context(key_file=tmp_path / "key.pem", variables=VARIABLES)


def test_describe_trust() -> None:
    assert describe_trust(None, True) == "system CAs"
    assert describe_trust(Path("/etc/ca.pem"), True) == "CA file /etc/ca.pem"
    assert describe_trust(Path("/etc/ca.pem"), False) == "TLS NOT VERIFIED"


# --- plain http ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "[::1]", "localhost", "LOCALHOST.", "hec.localhost"]
)
def test_loopback_is_exempt(host: str) -> None:
    assert is_loopback(host.strip("[]"))
    assert cleartext_warning(f"http://{host}:8088", "URL", "the token") is None


@pytest.mark.parametrize("host", ["10.0.0.5", "splunk.example.com", "[2001:db8::1]", "localhost.example"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host.strip("[]"))


def test_https_needs_no_warning() -> None:
    assert cleartext_warning("https://splunk.example.com:8088", "URL", "the token") is None


def test_the_plain_http_warning_names_the_variable_and_no_credentials() -> None:
    warning = cleartext_warning("http://user:hunter2@Splunk.example.com:8088/x", f"{HEC}URL", "the HEC token")
    assert warning == (
        f"{HEC}URL is http://splunk.example.com:8088, plain HTTP: the HEC token and every event travel "
        "unencrypted, readable and changeable by anyone on the network path; use https://"
    )


def test_the_sink_contract_has_no_warnings_by_default(tmp_path: Path) -> None:
    assert FileSink(FileSinkSettings(path=str(tmp_path / "out.ndjson"))).warnings() == []


async def test_hec_warns_about_plain_http_when_it_opens(caplog: pytest.LogCaptureFixture) -> None:
    sink = SplunkHecSink(SplunkHecSettings(url="http://splunk.example.com:8088", token=TOKEN))
    expected = (
        f"{HEC}URL is http://splunk.example.com:8088, plain HTTP: the HEC token and every event travel "
        "unencrypted, readable and changeable by anyone on the network path; use https://"
    )
    assert sink.warnings() == [expected]
    assert "unencrypted HTTP" in sink.describe()
    with caplog.at_level(logging.WARNING, logger="forwarder.sinks.splunk_hec"):
        await sink.open()
    await sink.close()
    assert [record.getMessage() for record in caplog.records] == [expected]
    assert TOKEN not in caplog.text
    assert SplunkHecSink(SplunkHecSettings(url="http://127.0.0.1:8088", token=TOKEN)).warnings() == []
    assert SplunkHecSink(SplunkHecSettings(url="https://splunk.example.com", token=TOKEN)).warnings() == []


@pytest.mark.parametrize(
    ("credentials", "secrets"),
    [
        ({"api_key": "id:key"}, "the API key and every event travel"),
        ({"username": "forwarder", "password": "pw"}, "the password of forwarder and every event travel"),
        ({"bearer_token": "token"}, "the bearer token and every event travel"),
        ({}, "every event travels"),
    ],
)
async def test_elasticsearch_warns_about_plain_http_when_it_opens(
    credentials: dict[str, str], secrets: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = ElasticsearchSink(ElasticsearchSettings(url="http://es.example.com:9200", **credentials))  # type: ignore[arg-type]
    expected = (
        f"{ES}URL is http://es.example.com:9200, plain HTTP: {secrets} unencrypted, readable and "
        "changeable by anyone on the network path; use https://"
    )
    assert sink.warnings() == [expected]
    with caplog.at_level(logging.WARNING, logger="forwarder.sinks.elasticsearch"):
        await sink.open()
    await sink.close()
    assert [record.getMessage() for record in caplog.records] == [expected]


def test_verification_off_is_a_warning_with_the_name_that_was_set() -> None:
    url = "https://hec.example.com:8088"
    current = SplunkHecSink(SplunkHecSettings(url=url, token=TOKEN, tls_verify=False))
    former = SplunkHecSink(SplunkHecSettings(url=url, token=TOKEN, tls_insecure=True))
    assert current.warnings() == [
        f"{HEC}TLS_VERIFY is false: TLS verification of https://hec.example.com:8088 is OFF; anyone on the "
        "network path can read and change the events and the credentials. Outside of tests, trust its "
        f"CA with {HEC}TLS_CA_FILE instead"
    ]
    assert former.warnings() == [
        f"{HEC}TLS_INSECURE is deprecated; set {HEC}TLS_VERIFY=false instead",
        f"{HEC}TLS_INSECURE is true: TLS verification of https://hec.example.com:8088 is OFF; anyone on the "
        "network path can read and change the events and the credentials. Outside of tests, trust its "
        f"CA with {HEC}TLS_CA_FILE instead",
    ]
    assert "TLS NOT VERIFIED" in former.describe()


# --- former names --------------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "model"), [(HEC, SplunkHecSettings), (ES, ElasticsearchSettings)])
def test_every_former_name_is_read_into_the_current_one(
    prefix: str,
    model: type[SplunkHecSettings | ElasticsearchSettings],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("pw-secret\n")
    monkeypatch.setenv(f"{prefix}URL", "https://receiver.example.com")
    monkeypatch.setenv(f"{prefix}TOKEN", TOKEN)
    monkeypatch.setenv(f"{prefix}CA_BUNDLE", str(ca_file))
    monkeypatch.setenv(f"{prefix}CLIENT_CERT", str(ca_file))
    monkeypatch.setenv(f"{prefix}CLIENT_KEY", str(ca_file))
    # The *_FILE form of a former name works as well: secrets mounted as files keep working.
    monkeypatch.setenv(f"{prefix}CLIENT_KEY_PASSWORD_FILE", str(password_file))
    read = model()
    assert read.tls_ca_file == ca_file
    assert read.tls_cert_file == ca_file
    assert read.tls_key_file == ca_file
    assert read.tls_key_password is not None
    assert read.tls_key_password.get_secret_value() == "pw-secret"
    assert read.tls_verify is True
    sink = SplunkHecSink(read) if isinstance(read, SplunkHecSettings) else ElasticsearchSink(read)
    assert sink.warnings() == [
        f"{prefix}CA_BUNDLE is deprecated; rename it {prefix}TLS_CA_FILE",
        f"{prefix}CLIENT_CERT is deprecated; rename it {prefix}TLS_CERT_FILE",
        f"{prefix}CLIENT_KEY is deprecated; rename it {prefix}TLS_KEY_FILE",
        f"{prefix}CLIENT_KEY_PASSWORD is deprecated; rename it {prefix}TLS_KEY_PASSWORD",
    ]


@pytest.mark.parametrize(("prefix", "model"), [(HEC, SplunkHecSettings), (ES, ElasticsearchSettings)])
def test_the_current_names_are_read(
    prefix: str,
    model: type[SplunkHecSettings | ElasticsearchSettings],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"{prefix}URL", "https://receiver.example.com")
    monkeypatch.setenv(f"{prefix}TOKEN", TOKEN)
    monkeypatch.setenv(f"{prefix}TLS_CA_FILE", str(ca_file))
    monkeypatch.setenv(f"{prefix}TLS_CERT_FILE", str(ca_file))
    monkeypatch.setenv(f"{prefix}TLS_KEY_FILE", str(ca_file))
    monkeypatch.setenv(f"{prefix}TLS_KEY_PASSWORD", "pw-secret")
    read = model()
    assert (read.tls_ca_file, read.tls_cert_file, read.tls_key_file) == (ca_file, ca_file, ca_file)
    assert read.tls_key_password is not None
    assert read.ca_bundle is None
    sink = SplunkHecSink(read) if isinstance(read, SplunkHecSettings) else ElasticsearchSink(read)
    assert sink.warnings() == []


def test_both_names_with_the_same_value_are_accepted(ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{HEC}URL", "https://hec.example.com")
    monkeypatch.setenv(f"{HEC}TOKEN", TOKEN)
    monkeypatch.setenv(f"{HEC}CA_BUNDLE", str(ca_file))
    monkeypatch.setenv(f"{HEC}TLS_CA_FILE", str(ca_file))
    monkeypatch.setenv(f"{HEC}TLS_INSECURE", "false")
    monkeypatch.setenv(f"{HEC}TLS_VERIFY", "true")
    read = SplunkHecSettings()
    assert read.tls_ca_file == ca_file
    assert read.tls_verify is True


def test_conflicting_names_are_listed_with_every_other_problem(
    ca_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t0ken")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    monkeypatch.setenv("FORWARDER_SINKS", "splunk_hec,elasticsearch")
    monkeypatch.setenv(f"{HEC}URL", "https://hec.example.com")
    monkeypatch.setenv(f"{HEC}TOKEN", TOKEN)
    monkeypatch.setenv(f"{HEC}CA_BUNDLE", str(ca_file))
    monkeypatch.setenv(f"{HEC}TLS_CA_FILE", str(tmp_path / "other.pem"))
    monkeypatch.setenv(f"{HEC}TLS_INSECURE", "true")
    monkeypatch.setenv(f"{HEC}TLS_VERIFY", "true")
    monkeypatch.setenv(f"{ES}URL", "https://es.example.com")
    monkeypatch.setenv(f"{ES}TLS_CA_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv(f"{ES}CLIENT_KEY", str(ca_file))
    monkeypatch.setenv(f"{ES}TLS_KEY_FILE", str(tmp_path / "key.pem"))
    with pytest.raises(ConfigurationError) as raised:
        load_config()
    problems = raised.value.problems
    assert problems[:2] == [
        f"{HEC}CA_BUNDLE (the former name of {HEC}TLS_CA_FILE) and {HEC}TLS_CA_FILE are both set and "
        f"disagree; set only {HEC}TLS_CA_FILE",
        f"{HEC}TLS_INSECURE (the former name of {HEC}TLS_VERIFY) and {HEC}TLS_VERIFY are both set and "
        f"disagree; set only {HEC}TLS_VERIFY",
    ]
    assert len(problems) == 3
    elasticsearch = problems[2]
    assert (
        f"{ES}CLIENT_KEY (the former name of {ES}TLS_KEY_FILE) and {ES}TLS_KEY_FILE are both set and disagree"
        in elasticsearch
    )
    assert f"{ES}TLS_CA_FILE: {str(tmp_path / 'missing.pem')!r} is not a readable file" in elasticsearch


def test_a_former_name_with_a_bad_value_is_reported_under_that_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "t0ken")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    monkeypatch.setenv("FORWARDER_SINKS", "splunk_hec")
    monkeypatch.setenv(f"{HEC}URL", "https://hec.example.com")
    monkeypatch.setenv(f"{HEC}TOKEN", TOKEN)
    monkeypatch.setenv(f"{HEC}TLS_INSECURE", "maybe")
    with pytest.raises(ConfigurationError) as raised:
        load_config()
    assert [problem.split(":")[0] for problem in raised.value.problems] == [f"{HEC}TLS_INSECURE"]


async def test_a_bad_file_under_a_former_name_is_named_so(tmp_path: Path) -> None:
    sink = SplunkHecSink(
        SplunkHecSettings(url="https://hec.example.com", token=TOKEN, ca_bundle=tmp_path / "missing.pem")
    )
    with pytest.raises(SinkConfigError, match=rf"^{HEC}CA_BUNDLE: cannot load CA certificates"):
        await sink.open()
