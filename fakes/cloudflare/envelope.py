"""The Cloudflare v4 response envelope, every error answer the simulator gives in one table, and odd 200s.

Codes and messages come from ``reference/cloudflare/samples/errors_observed_in_issues.json`` and the
OpenAPI 4XX example, except those marked *chosen*: the real API's answer for them was not observed, so
the simulator picks a plausible one and keeps it stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

import orjson

JsonObject = dict[str, object]


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: int
    message: str
    chain: tuple[tuple[int, str], ...] = ()


class Failure(Enum):
    MISSING_CREDENTIALS = "missing_credentials"
    MALFORMED_AUTHORIZATION = "malformed_authorization"
    MALFORMED_AUTH_KEY = "malformed_auth_key"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    FORBIDDEN = "forbidden"
    NO_ROUTE = "no_route"
    INVALID_IDENTIFIER = "invalid_identifier"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_PARAMETER = "invalid_parameter"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (the name of an answer, not a secret)


ERRORS: Mapping[Failure, ErrorAnswer] = MappingProxyType(
    {
        Failure.MISSING_CREDENTIALS: ErrorAnswer(
            400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
        ),
        Failure.MALFORMED_AUTHORIZATION: ErrorAnswer(
            400, 6003, "Invalid request headers", ((6111, "Invalid format for Authorization header"),)
        ),
        Failure.MALFORMED_AUTH_KEY: ErrorAnswer(
            400, 6003, "Invalid request headers", ((6103, "Invalid format for X-Auth-Key header"),)
        ),
        # Issues show this code without a status; 401 is what an unknown token gets elsewhere in v4.
        Failure.UNKNOWN_CREDENTIAL: ErrorAnswer(401, 10001, "Unable to authenticate request"),
        # A valid token lacking the permission, or naming an account it may not read.
        Failure.FORBIDDEN: ErrorAnswer(403, 10000, "Authentication error"),
        Failure.NO_ROUTE: ErrorAnswer(404, 7003, "No route for the URI"),
        Failure.INVALID_IDENTIFIER: ErrorAnswer(
            404, 7003, "Could not route to {path}, perhaps your object identifier is invalid?"
        ),
        # chosen
        Failure.METHOD_NOT_ALLOWED: ErrorAnswer(405, 7001, "Method not allowed for this endpoint"),
        # chosen: a query parameter the OpenAPI excerpt does not allow.
        Failure.INVALID_PARAMETER: ErrorAnswer(400, 10400, "Invalid request: {detail}"),
        Failure.RATE_LIMITED: ErrorAnswer(
            429,
            971,
            "More than {requests} requests per {period} seconds reached. "
            "Please wait and consider throttling your request speed",
        ),
        # chosen: the body of an injected 5xx that still came from the API rather than a proxy.
        Failure.SERVER_ERROR: ErrorAnswer(500, 10002, "{reason}"),
        # The token verify endpoints' answer for a token they do not know (the API's documented example
        # code 1000); a token owned by an account is unknown to /user/tokens/verify and the reverse.
        Failure.INVALID_TOKEN: ErrorAnswer(401, 1000, "Invalid API Token"),
    }
)

PROXY_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def success(result: object, result_info: JsonObject | None = None) -> JsonObject:
    body: JsonObject = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def failure(kind: Failure, **details: object) -> tuple[int, JsonObject]:
    """The HTTP status and envelope for ``kind``; ``details`` fill the ``{placeholders}`` of its message."""
    answer = ERRORS[kind]
    error: JsonObject = {"code": answer.code, "message": answer.message.format(**details)}
    if answer.chain:
        error["error_chain"] = [{"code": code, "message": message} for code, message in answer.chain]
    return answer.status, {"success": False, "errors": [error], "messages": [], "result": None}


def failures(kind: Failure, details: list[str]) -> tuple[int, JsonObject]:
    """One error per detail, the way Cloudflare lists several validation problems in one answer."""
    answer = ERRORS[kind]
    errors: list[object] = [
        {"code": answer.code, "message": answer.message.format(detail=detail)} for detail in details
    ]
    return answer.status, {"success": False, "errors": errors, "messages": [], "result": None}


def encode(body: JsonObject) -> bytes:
    return orjson.dumps(body)


def _odd_bodies() -> Mapping[str, bytes]:
    """By ``odd_envelope`` shape, 200 bodies that a client trusting the status alone would misread.

    None was observed from the v4 API: they stand for a misbehaving edge, a half-delivered response or a
    future change of the envelope, which a client must refuse rather than take as an empty page.
    """
    valid = encode(success([]))
    return MappingProxyType(
        {
            "success_missing": encode({"errors": [], "messages": [], "result": []}),
            "success_false": encode({"success": False, "errors": [], "messages": [], "result": []}),
            "result_not_list": encode(success({"unexpected": "object"})),
            "result_null": encode(success(None)),
            "empty_body": b"",
            "array_body": b"[]",
            "truncated_json": valid[: len(valid) // 2],
        }
    )


ODD_BODIES = _odd_bodies()
ODD_SHAPES = tuple(ODD_BODIES)
