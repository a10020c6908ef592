"""Is the API token itself good? The token verify endpoints tell a bad token from a missing permission.

A log endpoint answers a wrong, expired, disabled or deleted token much as it answers a good token that
lacks a permission (403, code 10000 "Authentication error"), so a message built from that answer alone
sends a person to the permission settings of a token that does not work at all.
``GET /user/tokens/verify`` answers for user tokens, ``GET /accounts/{id}/tokens/verify`` for
account-owned tokens; each returns the token's ``status`` (``active``, ``disabled``, ``expired``) and its
validity window, or 401 (code 1000, "Invalid API Token") for a token it does not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from forwarder.source.client import CloudflareClient
from forwarder.source.errors import CloudflareError, CloudflareRetryableError

USER_VERIFY = "/user/tokens/verify"
ACCOUNT_VERIFY = "/accounts/{account_id}/tokens/verify"
# Where a person makes or rolls a token, in the dashboard's words.
WHERE = "My Profile > API Tokens (user tokens) or Manage Account > API Tokens (account-owned tokens)"
# A token that ends within this span still works, but `check` says so, so that it is rolled in time.
EXPIRY_WARNING = timedelta(days=14)


@dataclass(frozen=True)
class TokenVerdict:
    """What Cloudflare says of the token: ``usable`` or not, and the sentence a person reads."""

    usable: bool
    message: str
    warning: str = ""


def instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def judge(result: Any, owner: str, now: datetime) -> TokenVerdict:
    """The verdict on a verify endpoint's ``result``."""
    result = result if isinstance(result, dict) else {}
    status = str(result.get("status", "unknown"))
    expires, not_before = instant(result.get("expires_on")), instant(result.get("not_before"))
    kind = f"{owner} token"
    if status == "expired" or (expires is not None and expires <= now):
        when = f" on {expires:%Y-%m-%d %H:%M} UTC" if expires is not None else ""
        return TokenVerdict(
            False, f"CLOUDFLARE_API_TOKEN ({kind}) expired{when}: roll it or create a new one under {WHERE}"
        )
    if status == "disabled":
        return TokenVerdict(
            False, f"CLOUDFLARE_API_TOKEN ({kind}) is disabled: enable it, or create a new one, under {WHERE}"
        )
    if not_before is not None and not_before > now:
        return TokenVerdict(
            False, f"CLOUDFLARE_API_TOKEN ({kind}) is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
        )
    if status != "active":
        return TokenVerdict(False, f"CLOUDFLARE_API_TOKEN ({kind}) has status {status!r}, not active")
    until = f", valid until {expires:%Y-%m-%d %H:%M} UTC" if expires is not None else ", no expiry"
    warning = ""
    if expires is not None and expires - now < EXPIRY_WARNING:
        warning = f"CLOUDFLARE_API_TOKEN expires on {expires:%Y-%m-%d %H:%M} UTC: roll it before then"
    return TokenVerdict(True, f"CLOUDFLARE_API_TOKEN is an active {kind}{until}", warning)


async def verify_token(
    client: CloudflareClient, account_ids: Sequence[str], now: datetime | None = None
) -> TokenVerdict:
    """Ask the user endpoint, then each account's (an account-owned token is unknown to the first).

    A retryable failure (rate limit, 5xx, network) is raised, and so is any refusal other than 401/403 (a
    404 from a wrong CLOUDFLARE_API_BASE_URL, a proxy's page): they say nothing about the token.
    """
    now = now if now is not None else datetime.now(UTC)
    if not client.credentials.uses_token:
        return TokenVerdict(True, "a Global API key (CLOUDFLARE_API_KEY) has no verify endpoint; not checked")
    attempts: list[tuple[str, str, str]] = [(USER_VERIFY, "user", account_ids[0] if account_ids else "")]
    attempts += [
        (ACCOUNT_VERIFY.format(account_id=account), "account-owned", account) for account in account_ids
    ]
    for path, owner, account in attempts:
        try:
            envelope = await client.get(
                path, [], operation="token_verification", account_id=account, listing=False
            )
        except CloudflareRetryableError:
            raise
        except CloudflareError as error:
            if error.status not in (401, 403):
                raise
            continue
        return judge(envelope.result, owner, now)
    return TokenVerdict(
        False,
        "CLOUDFLARE_API_TOKEN is not a token Cloudflare knows (mistyped, cut short, rolled or deleted): "
        f"copy it again, or create one under {WHERE}",
    )
