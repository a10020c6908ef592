"""TLS for syslog (RFC 5425): the client context, and which TLS failures a person must fix.

A certificate the receiver will not accept, or a receiver certificate we cannot verify, never
heals by retrying: those become SinkConfigError with the setting to change. Everything else
(resets, timeouts, a receiver that is down) is a network failure and retryable.
"""

from __future__ import annotations

import logging
import ssl

from forwarder import tls
from forwarder.sinks.base import SinkConfigError
from forwarder.sinks.syslog.settings import SyslogSettings

logger = logging.getLogger(__name__)

PREFIX = "FORWARDER_SYSLOG__"

# OpenSSL reasons meaning the receiver refused our client certificate (or that we sent none).
CLIENT_CERTIFICATE_REFUSED = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_DECRYPT_ERROR",
    }
)


def client_context(settings: SyslogSettings) -> ssl.SSLContext:
    """The context for every connection; raises SinkConfigError naming the file that is wrong.

    Built by :func:`forwarder.tls.client_context` like every other connection's: the operating
    system's trust store, or only the CAs of ``TLS_CA_FILE`` when it is set.
    """
    password = settings.tls_key_password.get_secret_value() if settings.tls_key_password else None
    try:
        context = tls.client_context(
            settings.tls_ca_file,
            settings.tls_cert_file,
            settings.tls_key_file,
            password,
            verify=settings.tls_verify,
            what="the receiver",
            variables=tls.TlsVariables.with_prefix(PREFIX),
        )
    except tls.TlsSettingError as error:
        raise SinkConfigError(str(error)) from None
    if not settings.tls_verify:
        logger.warning(
            tls.verification_off_warning(
                f"{PREFIX}TLS_VERIFY is false",
                f"{settings.host}:{settings.effective_port}",
                f"{PREFIX}TLS_CA_FILE",
            )
        )
    return context


def describe(error: BaseException) -> str:
    return tls.describe_error(error)


def config_error(error: BaseException, settings: SyslogSettings) -> SinkConfigError | None:
    """The SinkConfigError a TLS failure means, or None when it is a passing network failure."""
    where = f"{settings.host}:{settings.effective_port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or describe(error)
        if error.verify_code == 62 or "hostname" in detail.lower() or "ip address" in detail.lower():
            return SinkConfigError(
                f"syslog TLS to {where}: the receiver's certificate does not match the name "
                f"{settings.server_name!r} ({detail}); set {PREFIX}TLS_SERVER_NAME to a name the "
                f"certificate carries, or fix {PREFIX}HOST"
            )
        return SinkConfigError(
            f"syslog TLS to {where}: cannot verify the receiver's certificate ({detail}); set "
            f"{PREFIX}TLS_CA_FILE to the PEM file of the CA that signed it"
        )
    if isinstance(error, ssl.SSLError) and error.reason in CLIENT_CERTIFICATE_REFUSED:
        if settings.tls_cert_file:
            advice = f"check that {PREFIX}TLS_CERT_FILE is signed by a CA the receiver trusts"
        else:
            advice = (
                f"the receiver requires a client certificate: set {PREFIX}TLS_CERT_FILE "
                f"and {PREFIX}TLS_KEY_FILE"
            )
        return SinkConfigError(
            f"syslog TLS to {where}: the receiver refused the connection ({describe(error)}); {advice}"
        )
    if isinstance(error, ssl.SSLError) and error.reason in {
        "WRONG_VERSION_NUMBER",
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "NO_PROTOCOLS_AVAILABLE",
    }:
        return SinkConfigError(
            f"syslog TLS to {where}: no TLS 1.2+ handshake was possible ({describe(error)}); is "
            f"{PREFIX}PORT a TLS port? Plain TCP receivers need {PREFIX}TRANSPORT=tcp"
        )
    return None


def closed_after_handshake(settings: SyslogSettings) -> SinkConfigError:
    where = f"{settings.host}:{settings.effective_port}"
    if settings.tls_cert_file:
        advice = f"check that {PREFIX}TLS_CERT_FILE is one the receiver accepts (signed by a CA it trusts)"
    else:
        advice = (
            f"it most likely requires a client certificate: set {PREFIX}TLS_CERT_FILE "
            f"and {PREFIX}TLS_KEY_FILE"
        )
    return SinkConfigError(
        f"syslog TLS to {where}: the receiver closed the connection right after the handshake; {advice}"
    )
