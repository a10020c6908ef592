"""TLS for every outgoing connection, built in one place: the Cloudflare API, HEC, Elasticsearch, syslog.

Trust, by default, is the operating system's trust store through ``truststore``: the Keychain on
macOS, the certificate store on Windows, and on Linux the distribution's CA bundle (OpenSSL's
default paths, so ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are honoured). httpx alone would trust
certifi's bundle instead, which knows nothing of the CAs an administrator added to the machine
(a TLS-inspecting proxy, a private PKI).

A CA file setting *replaces* that store, for every connection alike: only the CAs in the file are
trusted, so a private receiver cannot be impersonated with a certificate from any public CA.

Every problem names the environment variable to fix, as the settings errors do.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import truststore
from pydantic import BaseModel, TypeAdapter, ValidationError

log = logging.getLogger(__name__)

# Python's own default since 3.10, set explicitly so that no platform default can lower it.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

FilePath = str | os.PathLike[str]


class TlsSettingError(ValueError):
    """A TLS setting that cannot be used; the message starts with the variable to fix."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


@dataclass(frozen=True, slots=True)
class TlsVariables:
    """The environment variables that carry each TLS setting, for messages a person acts on."""

    ca_file: str
    cert_file: str = ""
    key_file: str = ""
    key_password: str = ""

    @classmethod
    def with_prefix(cls, prefix: str) -> TlsVariables:
        """The one naming scheme: ``<prefix>TLS_CA_FILE``, ``TLS_CERT_FILE``, ``TLS_KEY_FILE`` and so on."""
        return cls(
            ca_file=f"{prefix}TLS_CA_FILE",
            cert_file=f"{prefix}TLS_CERT_FILE",
            key_file=f"{prefix}TLS_KEY_FILE",
            key_password=f"{prefix}TLS_KEY_PASSWORD",
        )


def system_trust_context() -> ssl.SSLContext:
    """A client context that verifies against the operating system's trust store."""
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MINIMUM_VERSION
    return context


def client_context(
    ca_file: FilePath | None = None,
    cert_file: FilePath | None = None,
    key_file: FilePath | None = None,
    key_password: str | None = None,
    *,
    verify: bool = True,
    what: str = "the server",
    variables: TlsVariables,
) -> ssl.SSLContext:
    """The context for connections to ``what``; TlsSettingError naming the variable of a bad file.

    ``ca_file`` (empty or None: the OS store) replaces the OS store. ``cert_file`` (and ``key_file`` when the
    key is not in it) is the client certificate. ``verify=False`` turns certificate and name checks
    off; the files are still loaded so that a broken one is reported either way.
    """
    if key_file and not cert_file:
        raise TlsSettingError(
            variables.key_file,
            f"{variables.key_file} is set but {variables.cert_file} is not; set both "
            "(or put the key in the certificate file)",
        )
    if not ca_file:
        context = system_trust_context() if verify else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as error:
            raise TlsSettingError(
                variables.ca_file,
                f"{variables.ca_file}: cannot load CA certificates from {os.fspath(ca_file)!r}: "
                f"{describe_error(error)}; give a PEM file with the CA that signed {what}'s certificate",
            ) from None
    context.minimum_version = MINIMUM_VERSION
    if cert_file:
        try:
            context.load_cert_chain(certfile=cert_file, keyfile=key_file or None, password=key_password)
        except (OSError, ssl.SSLError) as error:
            # Only what failed is reported, never the password.
            key = os.fspath(key_file) if key_file else "(in the cert file)"
            raise TlsSettingError(
                variables.cert_file,
                f"{variables.cert_file} / {variables.key_file}: cannot load the client certificate "
                f"{os.fspath(cert_file)!r} with key {key!r}: {describe_error(error)}; give a PEM "
                f"certificate and its matching key (and {variables.key_password} if the key is encrypted)",
            ) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_error(error: BaseException) -> str:
    """A short reason for a TLS or file error, e.g. ``No such file or directory``, ``no start line``."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.lower().replace("_", " ")
    return str(error) or type(error).__name__


def tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a failed connection (httpx wraps it), if that is why it failed.

    A TLS failure (an untrusted certificate, a wrong host name, https to a plain-http port) does
    not go away by retrying: it is a configuration problem for a person to fix.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def describe_trust(ca_file: FilePath | None, verify: bool) -> str:
    """What certificates of the other end are checked against, for a sink's one-line description."""
    if not verify:
        return "TLS NOT VERIFIED"
    if ca_file:
        return f"CA file {os.fspath(ca_file)}"
    return "system CAs"


def verification_off_warning(switch: str, what: str, ca_variable: str) -> str:
    """The start-up warning of a connection whose certificate is not checked."""
    return (
        f"{switch}: TLS verification of {what} is OFF; anyone on the network path can read and change "
        f"the events and the credentials. Outside of tests, trust its CA with {ca_variable} instead"
    )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: traffic that never leaves the machine (or the pod)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cleartext_warning(url: str, url_variable: str, secrets: str | None) -> str | None:
    """The warning for an ``http://`` receiver, or None for https and for loopback addresses.

    Loopback is exempt for the reason browsers treat ``http://localhost`` as a secure context:
    nothing crosses a network there (a sidecar, a local relay, a test), so a warning would only
    teach people to ignore warnings.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return None
    # Scheme, host and port only: a URL may carry a user and password.
    where = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    what = f"{secrets} and every event travel" if secrets else "every event travels"
    return (
        f"{url_variable} is {where}, plain HTTP: {what} unencrypted, readable and changeable by "
        "anyone on the network path; use https://"
    )


# --- the HTTP sinks' former setting names --------------------------------------------------------
#
# HEC and Elasticsearch named their TLS settings differently from syslog. The one scheme is now
# TLS_CA_FILE / TLS_CERT_FILE / TLS_KEY_FILE / TLS_KEY_PASSWORD / TLS_VERIFY; the former names are
# still read (into the new field, so code reads only the new one) and each use is warned about.


@dataclass(frozen=True, slots=True)
class FormerName:
    former: str
    current: str
    # TLS_INSECURE=true meant what TLS_VERIFY=false means now.
    inverted: bool = False


FORMER_HTTP_TLS_NAMES = (
    FormerName("ca_bundle", "tls_ca_file"),
    FormerName("client_cert", "tls_cert_file"),
    FormerName("client_key", "tls_key_file"),
    FormerName("client_key_password", "tls_key_password"),
    FormerName("tls_insecure", "tls_verify", inverted=True),
)

_BOOLEAN: TypeAdapter[bool] = TypeAdapter(bool)


def adopt_former_names(data: Any) -> Any:
    """For ``model_validator(mode="before")``: a former name's value also sets the current name.

    Only when the current name is not set itself; when both are, ``former_name_conflicts`` reports
    them if they disagree. A value the former field cannot parse is left for it to report.
    """
    if not isinstance(data, dict):
        return data
    adopted = dict(data)
    for name in FORMER_HTTP_TLS_NAMES:
        if name.former not in data or name.current in data:
            continue
        value = data[name.former]
        if name.inverted:
            try:
                value = not _BOOLEAN.validate_python(value)
            except ValidationError:
                continue
        adopted[name.current] = value
    return adopted


def _former_in_use(settings: BaseModel, name: FormerName) -> bool:
    return name.former in settings.model_fields_set


def former_name_conflicts(settings: BaseModel, env_var: Callable[[str], str]) -> list[str]:
    """One problem per former name set together with its current name to a different value."""
    problems = []
    for name in FORMER_HTTP_TLS_NAMES:
        if not _former_in_use(settings, name):
            continue
        former, current = getattr(settings, name.former), getattr(settings, name.current)
        agree = former != current if name.inverted else former == current
        if not agree:
            problems.append(
                f"{env_var(name.former)} (the former name of {env_var(name.current)}) and "
                f"{env_var(name.current)} are both set and disagree; set only {env_var(name.current)}"
            )
    return problems


def former_names_in_use(settings: BaseModel, env_var: Callable[[str], str]) -> list[str]:
    """A deprecation notice per former name that is set, saying what to set instead."""
    notices = []
    for name in FORMER_HTTP_TLS_NAMES:
        if not _former_in_use(settings, name):
            continue
        if name.inverted:
            value = "false" if getattr(settings, name.former) else "true"
            advice = f"set {env_var(name.current)}={value} instead"
        else:
            advice = f"rename it {env_var(name.current)}"
        notices.append(f"{env_var(name.former)} is deprecated; {advice}")
    return notices


def variable_for(settings: BaseModel, field_name: str, env_var: Callable[[str], str]) -> str:
    """The variable that carried ``field_name``'s value: the former name when that is the one set."""
    for name in FORMER_HTTP_TLS_NAMES:
        if name.current == field_name and _former_in_use(settings, name):
            return env_var(name.former)
    return env_var(field_name)


def verification_switch(settings: BaseModel, env_var: Callable[[str], str]) -> str:
    """How the person turned verification off, in their own words: ``..._TLS_VERIFY is false``."""
    if "tls_insecure" in settings.model_fields_set:
        return f"{env_var('tls_insecure')} is true"
    return f"{env_var('tls_verify')} is false"


def tls_variables(settings: BaseModel, env_var: Callable[[str], str]) -> TlsVariables:
    """The variables of an HTTP sink's TLS files, as the person set them (former or current names)."""
    return TlsVariables(
        ca_file=variable_for(settings, "tls_ca_file", env_var),
        cert_file=variable_for(settings, "tls_cert_file", env_var),
        key_file=variable_for(settings, "tls_key_file", env_var),
        key_password=variable_for(settings, "tls_key_password", env_var),
    )
