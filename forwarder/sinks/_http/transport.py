"""What an HTTP sink makes of a request that got no answer: one mapping for every HTTP sink.

A TLS failure or an address that cannot be used does not go away by retrying: it is a
:class:`SinkConfigError` naming the variable to fix. Everything else (timeouts, resets, refused
connections) is network trouble, a :class:`RetryableError`.
"""

from __future__ import annotations

import ssl

import httpx

from forwarder import tls
from forwarder.sinks._http.tls import EnvVar, HttpTlsSettings
from forwarder.sinks.base import RetryableError, SinkConfigError, SinkError


def transport_failure(
    error: httpx.TransportError,
    *,
    settings: HttpTlsSettings,
    env_var: EnvVar,
    where: str,
    receiver: str,
    action: str,
) -> SinkError:
    """The sink error ``error`` means.

    ``where`` is the receiver's address as messages show it (without credentials), ``receiver`` what
    it is in a sentence ("HEC", "the cluster"), ``action`` what was being done ("POST /_bulk").
    """
    failure = tls.tls_failure(error)
    if failure is not None:
        return SinkConfigError(_tls_message(failure, settings, env_var, where, receiver))
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return SinkConfigError(f"cannot use the address {where}: {error}; check {env_var('url')}")
    outcome = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
    # The kind says what happened (ConnectError, ReadTimeout); some carry no message (a bare reset).
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    # Over TLS 1.3 a server that wants a client certificate and gets none drops the connection
    # after the handshake, which looks exactly like a network reset: give the person the hint.
    dropped = isinstance(error, httpx.ReadError | httpx.RemoteProtocolError)
    if dropped and where.startswith("https:") and settings.tls_cert_file is None:
        cert_file = tls.variable_for(settings, "tls_cert_file", env_var)
        detail += f" (if {receiver} requires a client certificate, set {cert_file})"
    return RetryableError(f"{action}: connection to {where} {outcome}: {detail}")


def _tls_message(
    error: ssl.SSLError, settings: HttpTlsSettings, env_var: EnvVar, where: str, receiver: str
) -> str:
    def variable(field_name: str) -> str:
        return tls.variable_for(settings, field_name, env_var)

    if isinstance(error, ssl.SSLCertVerificationError):
        # e.g. "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate"
        parts = (getattr(error, "reason", None), getattr(error, "verify_message", None))
        reason = ": ".join(part for part in parts if part) or str(error)
        return (
            f"TLS: the certificate of {where} is not trusted ({reason}); set {variable('tls_ca_file')} "
            f"to the CA that signed it (or fix {env_var('url')}'s host name)"
        )
    cause = getattr(error, "reason", None) or error
    return (
        f"TLS handshake with {where} failed ({cause}): check {env_var('url')}'s scheme and port; "
        f"if {receiver} requires a client certificate set {variable('tls_cert_file')} and "
        f"{variable('tls_key_file')}"
    )
