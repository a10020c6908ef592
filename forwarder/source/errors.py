"""Cloudflare API failures, turned into sentences a person can act on.

Two families: :class:`CloudflareRetryableError` (rate limits, 5xx, network, a proxy's HTML page)
is retried by the policies in ``forwarder.retry``; every other :class:`CloudflareError` needs a
person (a wrong token, a missing permission, a wrong account id) and stops the stream loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What a token needs for each operation, in the words of the Cloudflare dashboard.
PERMISSIONS = {
    "access_requests": "Access: Audit Logs Read",
    "scim_updates": "Access: SCIM Logs Read",
    # The OpenAPI spec's x-api-token-group for GET /accounts/{id}/logs/audit: Read or Write.
    "audit_logs": "Account Settings Read",
    "identity_providers": "Access: Organizations, Identity Providers, and Groups Read",
}

WHAT = {
    "access_requests": "Access authentication logs",
    "scim_updates": "Access SCIM update logs",
    "audit_logs": "account audit logs",
    "identity_providers": "the identity provider list",
}


@dataclass(frozen=True)
class ApiMessage:
    code: int | None
    message: str

    @classmethod
    def parse_all(cls, items: Any) -> list[ApiMessage]:
        found = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            code = item.get("code")
            found.append(cls(code if isinstance(code, int) else None, str(item.get("message", ""))))
            # Cloudflare nests the precise cause (6111: bad Authorization header) in error_chain.
            found.extend(cls.parse_all(item.get("error_chain")))
        return found

    def __str__(self) -> str:
        return f"{self.message} ({self.code})" if self.code is not None else self.message


class CloudflareError(Exception):
    """A failure that a person has to fix; the message says how."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[ApiMessage] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class CloudflareRetryableError(CloudflareError):
    """A failure that may pass: retried with backoff, honouring ``retry_after`` when given."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[ApiMessage] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, errors=errors)
        self.retry_after = retry_after


class CloudflareRateLimited(CloudflareRetryableError):
    """HTTP 429 (code 971): the user's 1200 requests per 5 minutes are spent."""


class CloudflareAuthError(CloudflareError):
    """The credentials were refused or lack a permission."""


def codes(errors: list[ApiMessage]) -> set[int]:
    return {error.code for error in errors if error.code is not None}


def describe_failure(
    *,
    status: int,
    errors: list[ApiMessage],
    operation: str,
    account_id: str,
    uses_token: bool,
    retry_after: float | None,
) -> CloudflareError:
    """The exception for a failed answer: which kind, and the sentence a person reads."""
    what = WHAT.get(operation, operation)
    detail = "; ".join(str(error) for error in errors) or "no error details"
    if status == 429 or 971 in codes(errors):
        wait = f"; waiting {retry_after:.0f} s as asked" if retry_after is not None else ""
        return CloudflareRateLimited(
            f"Cloudflare rate limit reached for account {account_id} (HTTP {status}: {detail}){wait}",
            status=status,
            errors=errors,
            retry_after=retry_after,
        )
    if status >= 500 or status == 408:
        return CloudflareRetryableError(
            f"Cloudflare failed to list {what} for account {account_id} (HTTP {status}: {detail})",
            status=status,
            errors=errors,
            retry_after=retry_after,
        )
    prefix = f"Cloudflare refused to list {what} for account {account_id} (HTTP {status}: {detail})"
    fix = _credential_fix(status, codes(errors), operation, account_id, uses_token)
    if fix is not None:
        return CloudflareAuthError(f"{prefix}: {fix}", status=status, errors=errors)
    if status == 404:
        return CloudflareError(
            f"{prefix}: check FORWARDER_ACCOUNT_IDS and CLOUDFLARE_API_BASE_URL",
            status=status,
            errors=errors,
        )
    return CloudflareError(prefix, status=status, errors=errors)


def _credential_fix(
    status: int, found: set[int], operation: str, account_id: str, uses_token: bool
) -> str | None:
    """What to fix in the credentials, as a person reads it; None when they are not the problem.

    Malformed credentials are told apart from refused ones, and those from missing permissions,
    because each has a different fix.
    """
    credential = "CLOUDFLARE_API_TOKEN" if uses_token else "CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL"
    if found & {6003, 6111, 6103, 6102, 9106}:
        if 6111 in found:
            return (
                "the Authorization header was malformed: CLOUDFLARE_API_TOKEN must hold an API token "
                "(a Global API Key goes in CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL)"
            )
        if found & {6103, 6102}:
            return "CLOUDFLARE_API_KEY or CLOUDFLARE_EMAIL has an invalid format"
        return f"the credentials were missing or malformed: check {credential}"
    if status == 401 or (found & {10001, 9103, 9109} and status != 403):
        return f"{credential} was not accepted; it is invalid, expired or revoked"
    if status == 403:
        permission = PERMISSIONS.get(operation)
        need = f'the permission "{permission}"' if permission else "the needed permission"
        extra = (
            " (or set FORWARDER_SCIM_IDP_IDS to skip identity provider discovery)"
            if operation == "identity_providers"
            else ""
        )
        return (
            f"the {'API token' if uses_token else 'API key'} lacks {need} on account "
            f"{account_id}, or cannot reach that account; grant it{extra}"
        )
    return None
