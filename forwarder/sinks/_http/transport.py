"""What an HTTP sink makes of a request that got no answer: one mapping for every HTTP sink.

A TLS failure or an address that cannot be used does not go away by retrying: it is a
:class:`SinkConfigError` naming the variable to fix. Everything else (timeouts, resets, refused
connections) is network trouble, a :class:`RetryableError`.

A sink catches :data:`REQUEST_ERRORS` around each request and raises what :func:`transport_failure`
makes of them.
"""

from __future__ import annotations

import ssl

import httpx
import idna

from forwarder import tls
from forwarder.sinks._http.tls import EnvVar, HttpTlsSettings
from forwarder.sinks.base import RetryableError, SinkConfigError, SinkError

# An address httpx cannot put in a request: not transport errors, so raised past an
# ``except httpx.TransportError``. httpx raises InvalidURL itself (e.g. "URL too long"), and lets the
# idna package's error through when it reads a host name that is not valid IDNA.
URL_ERRORS = (httpx.InvalidURL, idna.IDNAError)
REQUEST_ERRORS = (httpx.TransportError, *URL_ERRORS)
# A URL in a message is cut to this many characters: the one that was too long is not read whole.
_SHOWN_URL = 200


def address_failure(error: Exception, env_var: EnvVar, *, where: str) -> SinkConfigError:
    """The configuration error of an address that cannot be used (``where`` as messages show it)."""
    shown = where if len(where) <= _SHOWN_URL else where[:_SHOWN_URL] + "…"
    return SinkConfigError(f"cannot use the address {shown}: {error}; check {env_var('url')}")


def transport_failure(
    error: httpx.TransportError | httpx.InvalidURL | idna.IDNAError,
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
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL | idna.IDNAError):
        return address_failure(error, env_var, where=where)
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
