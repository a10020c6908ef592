"""Throwaway CAs (trustme) and the operating system's trust store, for the TLS trust tests.

On Linux the OS store (truststore) is OpenSSL's default paths, which ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` point elsewhere: :func:`os_store` makes a test's CA "the OS store" by setting them.
The fixtures are served to the integration tests by tests/integration/conftest.py.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme


@dataclass(frozen=True)
class Pki:
    """A CA with a server certificate for 127.0.0.1, and a CA that signed nothing here."""

    server: ssl.SSLContext
    ca_file: Path
    other_ca_file: Path
    # Empty: SSL_CERT_DIR pointed here keeps the machine's own CAs out of a test.
    empty_dir: Path
    # The CA as OpenSSL's hashed directory (``<subject hash>.0``).
    hashed_dir: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    authority, other = trustme.CA(), trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    authority.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other-ca.pem"))
    (folder / "empty").mkdir()
    hashed = folder / "hashed"
    hashed.mkdir()
    if shutil.which("openssl"):
        subject_hash = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", str(folder / "ca.pem")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        shutil.copy(folder / "ca.pem", hashed / f"{subject_hash}.0")
    return Pki(server, folder / "ca.pem", folder / "other-ca.pem", folder / "empty", hashed)


@pytest.fixture
def os_store(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> Callable[..., None]:
    """``os_store(file, directory)``: what the operating system's trust store holds for this test."""
    # requests reads these instead of its certifi bundle; none may decide a test.
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "OTEL_EXPORTER_OTLP_CERTIFICATE"):
        monkeypatch.delenv(variable, raising=False)

    def use(ca_file: Path, cert_dir: Path | None = None) -> None:
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        monkeypatch.setenv("SSL_CERT_DIR", str(cert_dir or pki.empty_dir))

    return use
