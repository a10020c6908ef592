"""The Cloudflare API client: authentication, the v4 envelope, errors, rate limits and retries.

Transport (httpx) is kept apart from protocol: :meth:`CloudflareClient.get` returns a parsed
:class:`Envelope` or raises a :mod:`forwarder.source.errors` exception with a sentence a
person can act on. Paging lives in ``paging.py``.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

import httpx
import orjson
from pydantic import SecretStr
from tenacity import RetryCallState

from forwarder import __version__
from forwarder.retry import MAX_RETRY_AFTER, Backoff, cloudflare_retrying, retry_after
from forwarder.source.errors import (
    ApiMessage,
    CloudflareError,
    CloudflareRateLimited,
    CloudflareRetryableError,
    describe_failure,
)
from forwarder.source.instruments import SourceInstruments
from forwarder.source.page_sizes import PageSizes
from forwarder.source.ratelimit import RateLimiter

log = logging.getLogger(__name__)

QueryParams = Sequence[tuple[str, str | int]]


@dataclass(frozen=True)
class Credentials:
    """A token (``Authorization: Bearer``) or a Global API key with its email."""

    token: SecretStr | None = None
    api_key: SecretStr | None = None
    email: str | None = None

    @property
    def uses_token(self) -> bool:
        return self.token is not None

    def headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        if self.api_key is not None and self.email is not None:
            return {"X-Auth-Email": self.email, "X-Auth-Key": self.api_key.get_secret_value()}
        raise ValueError("no Cloudflare credentials configured")

    def __repr__(self) -> str:
        kind = "token" if self.token is not None else "api key"
        return f"Credentials({kind})"


@dataclass(frozen=True)
class Envelope:
    """A successful v4 answer: ``result`` plus ``result_info`` when the endpoint pages."""

    result: Any
    result_info: Mapping[str, Any] = field(default_factory=dict)
    messages: list[ApiMessage] = field(default_factory=list)


def reset_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds until the rate-limit budget resets, from either header style, when one says.

    The IETF ``Ratelimit`` header carries ``t=``; ``X-RateLimit-Reset`` is seconds or, when larger
    than a day, an epoch time. These headers come on *every* answer: the reset alone never means
    "wait"; only a 429 or a remaining budget of 0 does (see :func:`budget_spent`).
    """
    ratelimit = headers.get("ratelimit")
    if ratelimit:
        match = re.search(r"(?:^|[;,\s])t=(\d+)", ratelimit)
        if match:
            return float(match.group(1))
    reset = headers.get("x-ratelimit-reset")
    if reset and re.fullmatch(r"\d+(\.\d+)?", reset.strip()):
        seconds = float(reset)
        now = time.time() if now is None else now
        return max(0.0, seconds - now) if seconds > 86400 else seconds
    return None


def remaining_budget(headers: httpx.Headers) -> int | None:
    """Requests the server says are left in this period, when it says."""
    ratelimit = headers.get("ratelimit")
    if ratelimit:
        match = re.search(r"(?:^|[;,\s])r=(\d+)", ratelimit)
        if match:
            return int(match.group(1))
    remaining = headers.get("x-ratelimit-remaining")
    if remaining and remaining.strip().isdigit():
        return int(remaining)
    return None


def server_wait(status: int, headers: httpx.Headers, now: float | None = None) -> float | None:
    """How long the server asks this credential to wait, or None for the ordinary backoff.

    ``Retry-After`` is an explicit request on any answer. The rate-limit headers say when the
    budget resets on every answer, so they pause only when the budget is spent: a 429, or a
    remaining count of 0. A 503 saying ``r=1190;t=280`` is an ordinary failure, not a 280 s pause.
    """
    asked = retry_after(headers.get("retry-after"), now=now)
    if asked is not None:
        return asked
    if status == 429 or remaining_budget(headers) == 0:
        return reset_seconds(headers, now)
    return None


def envelope_problem(body: Mapping[str, Any], *, listing: bool = True) -> str:
    """What is wrong with a 2xx envelope, or "" when it is sound.

    A sound answer says ``success: true`` and carries its rows in a ``result`` list, or for the one
    endpoint that is not a listing (token verification) its object in a ``result`` object.
    """
    if "success" not in body:
        return "an envelope without `success`"
    if body["success"] is not True:
        return f"an envelope whose `success` is {orjson.dumps(body['success']).decode()[:40]}"
    result = body.get("result")
    if not listing and not isinstance(result, dict):
        kind = "missing" if "result" not in body else f"a JSON {type(result).__name__}"
        return f"a `result` that is not an object ({kind})"
    if listing and not isinstance(result, list):
        kind = "missing" if "result" not in body else f"a JSON {type(result).__name__}"
        return f"a `result` that is not a list ({kind})"
    return ""


class _NoCookies(CookieJar):
    """A jar that keeps nothing: the API's cookies (``__cf_bm``) are not sent back.

    A poller has no session to keep, and the jar's parsing of every answer's ``Set-Cookie`` costs
    per request.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


class CloudflareClient:
    """One credential's view of the API; every stream of that credential shares one client."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        limiter: RateLimiter,
        backoff: Backoff,
        timeout: float = 30.0,
        attempts: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: SourceInstruments | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.limiter = limiter
        self.backoff = backoff
        self.attempts = attempts
        self.server_remaining: int | None = None
        # Page caps are a property of the server and the credential, shared by every stream.
        self.page_sizes = PageSizes()
        self.last_success: float | None = None
        # For /readyz and /status: when a request last started, and why the last one failed.
        self.last_request: float | None = None
        self.last_error = ""
        self.telemetry = telemetry if telemetry is not None else SourceInstruments()
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"cloudflare-siem-forwarder/{__version__}", "Accept": "application/json"},
            # Proxies from the standard HTTPS_PROXY / NO_PROXY variables.
            trust_env=True,
            # make_client passes the OS trust store or CLOUDFLARE_TLS_CA_FILE (forwarder.tls); True,
            # httpx's certifi bundle, is left only for clients built by hand (tests, tools).
            verify=tls if tls is not None else True,
            cookies=_NoCookies(),
        )
        # The client's headers with the credential's, and the timeout, merged once per credential
        # rather than by build_request on every GET (what build_request makes of them, in less time).
        self._prepared: tuple[Credentials, httpx.Headers, dict[str, Any]] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def get(
        self, path: str, params: QueryParams, *, operation: str, account_id: str, listing: bool = True
    ) -> Envelope:
        """GET ``path`` with retries; raises CloudflareError when a person must act."""
        retrying = cloudflare_retrying(self.backoff, attempts=self.attempts, before_sleep=self._log_retry)
        async for attempt in retrying:
            with attempt:
                return await self._get_once(path, params, operation, account_id, listing)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _get_once(
        self, path: str, params: QueryParams, operation: str, account_id: str, listing: bool
    ) -> Envelope:
        slot = await self.limiter.acquire()
        url = f"{self.base_url}{path}"
        self.last_request = time.monotonic()
        with self.telemetry.cloudflare_request(operation, url) as call:
            try:
                response = await self._http.send(self._request(url, params))
            except httpx.TimeoutException as error:
                raise CloudflareRetryableError(
                    f"Cloudflare API timed out ({type(error).__name__})"
                ) from error
            except httpx.TransportError as error:
                raise CloudflareRetryableError(
                    f"cannot reach the Cloudflare API at {self.base_url}: {type(error).__name__}: {error}"
                ) from error
            finally:
                # The server counted it on arrival: its rate-limit period runs from the answer.
                self.limiter.done(slot)
            call.answered(response.status_code)
            budget = remaining_budget(response.headers)
            if budget is not None:
                self.server_remaining = budget
            envelope = self._parse(response, operation=operation, account_id=account_id, listing=listing)
            if budget is not None:
                # Only a sound answer is the API's own word on the budget: an error page or a garbled
                # answer may come from an edge or a proxy replacing it, with headers of its own.
                reset = reset_seconds(response.headers)
                self.limiter.observe(slot, budget, reset if reset is not None else self.limiter.period)
            return envelope

    def _request(self, url: str, params: QueryParams) -> httpx.Request:
        prepared = self._prepared
        if prepared is None or prepared[0] is not self.credentials:
            headers = httpx.Headers(self._http.headers)
            headers.update(self.credentials.headers())
            prepared = self._prepared = (self.credentials, headers, {"timeout": self._http.timeout.as_dict()})
        _, headers, extensions = prepared
        return httpx.Request("GET", url, params=list(params), headers=headers, extensions=extensions)

    def _parse(self, response: httpx.Response, *, operation: str, account_id: str, listing: bool) -> Envelope:
        status = response.status_code
        wait = server_wait(status, response.headers)
        answered = f"Cloudflare API answered HTTP {status} for {operation} of account {account_id}"
        try:
            body = orjson.loads(response.content)
            problem = "" if isinstance(body, dict) else f"a JSON {type(body).__name__}, not an envelope"
        except orjson.JSONDecodeError as error:
            body, problem = None, f"JSON that does not parse: {error}"
        if not isinstance(body, dict):
            kind = response.headers.get("content-type", "no content type")
            size = len(response.content)
            message = f"{answered} with a body that is not a JSON envelope ({kind}, {size} bytes: {problem})"
            if 400 <= status < 500 and status not in (408, 429):
                # A proxy's 4xx page will not change by retrying: the URL or a proxy is wrong.
                raise CloudflareError(f"{message}; check CLOUDFLARE_API_BASE_URL", status=status)
            if status == 429:
                self._blocked(wait)
            # An outage page from a proxy (502/503 HTML), or a garbled answer: it may pass.
            raise CloudflareRetryableError(f"{message}; retrying", status=status, retry_after=wait)
        errors = ApiMessage.parse_all(body.get("errors"))
        if status >= 400:
            failure = describe_failure(
                status=status,
                errors=errors,
                operation=operation,
                account_id=account_id,
                uses_token=self.credentials.uses_token,
                retry_after=wait,
            )
            if isinstance(failure, CloudflareRateLimited):
                self._blocked(failure.retry_after)
            raise failure
        problem = envelope_problem(body, listing=listing)
        if problem:
            # Not a refusal (that comes as a 4xx) but a garbled answer: retried like a 5xx, never
            # taken as an empty page (its window would be committed unread).
            raise CloudflareRetryableError(
                f"{answered} with {problem}; retrying", status=status, retry_after=wait
            )
        if wait is not None and remaining_budget(response.headers) == 0:
            # The budget is spent: every stream of this credential waits for the reset, not for a 429.
            self._blocked(wait)
        self.last_success = time.monotonic()
        self.last_error = ""
        info = body.get("result_info")
        return Envelope(
            result=body["result"],
            result_info=info if isinstance(info, dict) else {},
            messages=ApiMessage.parse_all(body.get("messages")),
        )

    def _blocked(self, retry_after: float | None) -> None:
        # Every stream of this credential is blocked too: make them all wait, not just this one.
        self.limiter.block(min(retry_after if retry_after is not None else 60.0, MAX_RETRY_AFTER))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        self.last_error = str(error)
        self.telemetry.cloudflare_retry(error)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Cloudflare request failed, retrying",
            extra={"reason": str(error), "attempt": state.attempt_number, "wait_seconds": round(wait, 2)},
        )


__all__ = ["CloudflareClient", "CloudflareError", "Credentials", "Envelope"]
