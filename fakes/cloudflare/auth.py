"""Who is calling: API tokens and Global API keys, checked the way Cloudflare's edge checks them."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from fakes.cloudflare.config import GLOBAL_API_KEY_FORMAT, Credential
from fakes.cloudflare.envelope import Failure

_BEARER = re.compile(r"Bearer ([A-Za-z0-9_\-]+)")


@dataclass(frozen=True)
class Caller:
    """The outcome of reading a request's auth headers.

    ``failure`` is None once the credential is known. ``bucket`` names the rate-limit budget the request
    spends: the credential's, or the peer address for callers the simulator cannot name.
    """

    credential: Credential | None
    failure: Failure | None
    bucket: str
    scheme: str | None


class Authenticator:
    def __init__(self, credentials: Sequence[Credential]) -> None:
        self._tokens = {c.token: c for c in credentials if c.token is not None}
        self._keys = {
            (c.email.lower(), c.key): c for c in credentials if c.email is not None and c.key is not None
        }

    def identify(self, headers: Mapping[str, str], peer: str) -> Caller:
        anonymous = f"anonymous:{peer}"
        authorization = headers.get("Authorization")
        if authorization is not None:
            # The token wins over a Global API key sent alongside it, as in Cloudflare's SDKs.
            match = _BEARER.fullmatch(authorization.strip())
            if match is None:
                return Caller(None, Failure.MALFORMED_AUTHORIZATION, anonymous, "bearer")
            credential = self._tokens.get(match.group(1))
            if credential is None:
                return Caller(None, Failure.UNKNOWN_CREDENTIAL, anonymous, "bearer")
            return Caller(credential, None, credential.label, "bearer")
        email, key = headers.get("X-Auth-Email"), headers.get("X-Auth-Key")
        if not email or not key:
            return Caller(None, Failure.MISSING_CREDENTIALS, anonymous, None)
        if not GLOBAL_API_KEY_FORMAT.fullmatch(key.strip()):
            return Caller(None, Failure.MALFORMED_AUTH_KEY, anonymous, "key")
        credential = self._keys.get((email.strip().lower(), key.strip()))
        if credential is None:
            return Caller(None, Failure.UNKNOWN_CREDENTIAL, anonymous, "key")
        return Caller(credential, None, credential.label, "key")


def authorize(credential: Credential, account_id: str, permissions: Collection[str]) -> Failure | None:
    """None when ``credential`` holds one of ``permissions`` (any suffices) and may read the account."""
    if not credential.usable or not credential.may_read(account_id):
        return Failure.FORBIDDEN
    if permissions and not any(permission in credential.permissions for permission in permissions):
        return Failure.FORBIDDEN
    return None
