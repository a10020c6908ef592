"""``GET /user/tokens/verify`` and ``GET /accounts/{account_id}/tokens/verify``: is this token good?

Both answer a token's id, ``status`` (``active``, ``disabled``, ``expired``) and validity window; a token the
endpoint does not know gets 401 with code 1000. A user token is known to the first, an account-owned token
only to the second and only for its own account. Global API keys have no verify endpoint (401 too).
"""

from __future__ import annotations

import hashlib
import re

from fakes.cloudflare.auth import Caller
from fakes.cloudflare.envelope import Failure, JsonObject, failure

ROUTE = re.compile(r"/(?:user|accounts/([^/]+))/tokens/verify")
VALID = {"code": 10000, "message": "This API Token is valid and active", "type": None}


def verify(caller: Caller, account_id: str | None) -> tuple[int, JsonObject]:
    """The answer to a verify request; ``account_id`` is None on the user endpoint."""
    if caller.failure is not None and caller.failure is not Failure.UNKNOWN_CREDENTIAL:
        return failure(caller.failure)
    credential = caller.credential
    if credential is None or credential.token is None:
        return failure(Failure.INVALID_TOKEN)
    if account_id is None and credential.owner != "user":
        return failure(Failure.INVALID_TOKEN)
    if account_id is not None and (credential.owner != "account" or not credential.may_read(account_id)):
        return failure(Failure.INVALID_TOKEN)
    token_id = hashlib.sha256(credential.token.encode()).hexdigest()[:32]
    result: JsonObject = {"id": token_id, "status": credential.status}
    if credential.expires_on is not None:
        result["expires_on"] = credential.expires_on
    if credential.not_before is not None:
        result["not_before"] = credential.not_before
    messages = [VALID] if credential.status == "active" else []
    return 200, {"success": True, "errors": [], "messages": messages, "result": result}
