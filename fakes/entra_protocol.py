"""What the fake Entra ID speaks besides HTTP: the access tokens it signs (and the ingestion fake reads),
the checks of a client assertion signed with an app registration's certificate, and Entra's error answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fakes.azure_faults import CannedAnswer


class InvalidToken(Exception):
    pass


class TokenKey:
    """Signs and reads the access tokens the fake issues (JWT, HS256)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def sign(self, claims: Mapping[str, Any]) -> str:
        signing_input = b64_json({"alg": "HS256", "typ": "JWT"}) + "." + b64_json(claims)
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64(signature)

    def read(self, token: str) -> dict[str, Any]:
        """The claims of a token this key signed; :class:`InvalidToken` for anything else."""
        signing_input, _, signature = token.rpartition(".")
        expected = b64(hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest())
        if not signing_input or not hmac.compare_digest(signature, expected):
            raise InvalidToken("signature does not verify")
        claims: dict[str, Any] = unb64_json(signing_input.split(".")[1])
        return claims


def certificate_matches(certificate: x509.Certificate, header: Mapping[str, Any]) -> bool:
    # MSAL pads its base64url thumbprints (RFC 7515 says not to); Entra ID accepts both.
    if "x5t#S256" in header:
        return str(header["x5t#S256"]).rstrip("=") == b64(certificate.fingerprint(hashes.SHA256()))
    # x5t is by definition the SHA-1 thumbprint (RFC 7515); nothing here relies on SHA-1 for security.
    sha1 = certificate.fingerprint(hashes.SHA1())  # noqa: S303
    return str(header.get("x5t")).rstrip("=") == b64(sha1)


def signature_verifies(certificate: x509.Certificate, assertion: str, algorithm: str) -> bool:
    signing_input, _, signature = assertion.rpartition(".")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or algorithm not in ("RS256", "PS256"):
        return False
    scheme: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if algorithm == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    )
    try:
        key.verify(unb64(signature), signing_input.encode(), scheme, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def entra_error(status: int, error: str, code: int, description: str) -> CannedAnswer:
    """An answer in Entra ID's token error shape."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return CannedAnswer(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def invalid_client() -> CannedAnswer:
    return entra_error(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the "
        "request is the client secret value, not the client secret ID, for a secret added to app "
        "'00000000-0000-0000-0000-000000000000'.",
    )


def service_error(status: int = 503) -> CannedAnswer:
    return entra_error(status, "temporarily_unavailable", 50000, "There was an error issuing a token.")


def plain_error(status: int, error: str, description: str) -> CannedAnswer:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return CannedAnswer(status, body, {"Content-Type": "application/json"})


def unverified_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, not verified; ValueError when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three parts")
    return unb64_json(parts[0]), unb64_json(parts[1])


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64_json(value: Mapping[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unb64_json(text: str) -> dict[str, Any]:
    value = json.loads(unb64(text))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
