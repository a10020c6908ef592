"""One mapping of transport failures for every HTTP sink: exception -> kind of error, key words."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import idna
import pytest

from forwarder.sinks._http.tls import HttpTlsSettings
from forwarder.sinks._http.transport import REQUEST_ERRORS, transport_failure
from forwarder.sinks.base import RetryableError, SinkConfigError, SinkError

HTTPS = "https://receiver.example:8443"
HTTP = "http://receiver.example:8080"


def env_var(field_name: str) -> str:
    return f"SINK__{field_name.upper()}"


def ssl_error(error: ssl.SSLError, **attributes: str) -> ssl.SSLError:
    # OpenSSL sets these on the errors it raises; errors made in Python lack them.
    for name, value in attributes.items():
        setattr(error, name, value)
    return error


def wrapped(cause: BaseException) -> httpx.ConnectError:
    """As httpx raises it: the TLS error is the cause of its ConnectError."""
    error = httpx.ConnectError(str(cause))
    error.__cause__ = cause
    return error


UNTRUSTED = ssl_error(
    ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    reason="CERTIFICATE_VERIFY_FAILED",
    verify_message="unable to get local issuer certificate",
)
HANDSHAKE = ssl_error(
    ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), reason="WRONG_VERSION_NUMBER"
)
BARE_SSL = ssl.SSLError(1, "[SSL] alert")

CASES: list[tuple[str, httpx.TransportError, str, type[SinkError], list[str], list[str]]] = [
    (
        "untrusted certificate",
        wrapped(UNTRUSTED),
        HTTPS,
        SinkConfigError,
        [
            f"certificate of {HTTPS} is not trusted",
            "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate",
            "set SINK__TLS_CA_FILE",
            "SINK__URL",
        ],
        ["TLS_CERT_FILE"],
    ),
    (
        "other handshake failure",
        wrapped(HANDSHAKE),
        HTTPS,
        SinkConfigError,
        [
            f"TLS handshake with {HTTPS} failed (WRONG_VERSION_NUMBER)",
            "SINK__URL",
            "the receiver requires a client certificate",
            "SINK__TLS_CERT_FILE and SINK__TLS_KEY_FILE",
        ],
        ["TLS_CA_FILE"],
    ),
    (
        "handshake failure without a reason",
        wrapped(BARE_SSL),
        HTTPS,
        SinkConfigError,
        [f"TLS handshake with {HTTPS} failed", "[SSL] alert", "SINK__TLS_CERT_FILE"],
        [],
    ),
    (
        "unsupported scheme",
        httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'htps://'."),
        "htps://receiver.example",
        SinkConfigError,
        ["cannot use the address htps://receiver.example", "unsupported protocol", "check SINK__URL"],
        [],
    ),
    (
        "refused connection",
        httpx.ConnectError("All connection attempts failed"),
        HTTPS,
        RetryableError,
        [f"POST /path: connection to {HTTPS} failed: ConnectError: All connection attempts failed"],
        ["client certificate"],
    ),
    (
        "timeout",
        httpx.ReadTimeout("The read operation timed out"),
        HTTPS,
        RetryableError,
        [f"POST /path: connection to {HTTPS} timed out: ReadTimeout: The read operation timed out"],
        ["client certificate"],
    ),
    (
        "connect timeout without a message",
        httpx.ConnectTimeout(""),
        HTTP,
        RetryableError,
        [f"connection to {HTTP} timed out: ConnectTimeout"],
        [],
    ),
    (
        "dropped over https: the TLS 1.3 hint",
        httpx.ReadError(""),
        HTTPS,
        RetryableError,
        [
            f"POST /path: connection to {HTTPS} failed: ReadError",
            "if the receiver requires a client certificate, set SINK__TLS_CERT_FILE",
        ],
        [],
    ),
    (
        "server disconnected over https: the TLS 1.3 hint",
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        HTTPS,
        RetryableError,
        ["RemoteProtocolError: Server disconnected", "set SINK__TLS_CERT_FILE"],
        [],
    ),
    (
        "dropped over plain http: no hint",
        httpx.ReadError("connection reset"),
        HTTP,
        RetryableError,
        [f"connection to {HTTP} failed: ReadError: connection reset"],
        ["client certificate"],
    ),
]


@pytest.mark.parametrize(
    ("error", "where", "kind", "present", "absent"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_transport_failure(
    error: httpx.TransportError, where: str, kind: type[SinkError], present: list[str], absent: list[str]
) -> None:
    failure = transport_failure(
        error,
        settings=HttpTlsSettings(),
        env_var=env_var,
        where=where,
        receiver="the receiver",
        action="POST /path",
    )
    assert type(failure) is kind
    message = str(failure)
    for words in present:
        assert words in message
    for words in absent:
        assert words not in message


def test_no_hint_when_a_client_certificate_is_set(tmp_path: Path) -> None:
    settings = HttpTlsSettings(tls_cert_file=tmp_path / "client.pem")
    failure = transport_failure(
        httpx.ReadError(""),
        settings=settings,
        env_var=env_var,
        where=HTTPS,
        receiver="HEC",
        action="GET /health",
    )
    assert isinstance(failure, RetryableError)
    assert "client certificate" not in str(failure)


def test_a_former_variable_name_is_the_one_named() -> None:
    settings = HttpTlsSettings(ca_bundle=Path("/etc/ca.pem"))
    failure = transport_failure(
        wrapped(UNTRUSTED),
        settings=settings,
        env_var=env_var,
        where=HTTPS,
        receiver="HEC",
        action="GET /health",
    )
    assert isinstance(failure, SinkConfigError)
    assert "set SINK__CA_BUNDLE" in str(failure)


@pytest.mark.parametrize(
    ("error", "where"),
    [
        (httpx.InvalidURL("URL too long"), "http://receiver.example/" + "a" * 70_000),
        (idna.InvalidCodepoint("Codepoint U+1F4A9 at position 1 of '💩' not allowed"), "http://xn--ls8h.la"),
    ],
    ids=["invalid url", "invalid idna host"],
)
def test_an_address_httpx_refuses_is_a_config_error(
    error: httpx.InvalidURL | idna.IDNAError, where: str
) -> None:
    # Neither is an httpx.TransportError: without REQUEST_ERRORS they escaped a sink's `except`.
    assert isinstance(error, REQUEST_ERRORS)
    assert not isinstance(error, httpx.TransportError)
    failure = transport_failure(
        error,
        settings=HttpTlsSettings(),
        env_var=env_var,
        where=where,
        receiver="the receiver",
        action="POST /path",
    )
    assert isinstance(failure, SinkConfigError)
    message = str(failure)
    assert message.startswith(f"cannot use the address {where[:200]}")
    assert str(error) in message
    assert message.endswith("check SINK__URL")
    # The address is cut: a person reads the reason, not 70,000 characters of URL.
    assert len(message) < 400
