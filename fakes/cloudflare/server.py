"""The simulator itself: an aiohttp server answering like ``api.cloudflare.com/client/v4``.

A request goes through the same gates, in the same order, as at Cloudflare's edge: injected faults (they
stand for the network and proxies in front of the API), the per-credential rate limit, routing, auth
headers, token permissions and account scope, the OpenAPI contract, and only then the data.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from types import MappingProxyType, TracebackType

from aiohttp import web

from fakes.cloudflare import endpoints, tokens
from fakes.cloudflare.auth import Authenticator, Caller, authorize
from fakes.cloudflare.config import (
    ACCESS_REQUESTS,
    ACCOUNT_ID_FORMAT,
    AUDIT_LOGS,
    SCIM_UPDATES,
    SimulatorConfig,
)
from fakes.cloudflare.control import control_routes
from fakes.cloudflare.envelope import (
    ODD_BODIES,
    PROXY_ERROR_PAGE,
    Failure,
    JsonObject,
    encode,
    failure,
    failures,
)
from fakes.cloudflare.faults import Fault, FaultEffects, FaultKind, FaultPlan
from fakes.cloudflare.observations import ReceivedRequest, SimulatorStats
from fakes.cloudflare.openapi_contract import Operation, load_operations
from fakes.cloudflare.rate_limit import RateDecision, RateLimiter
from fakes.cloudflare.record_store import RecordStore
from fakes.serving import serve_app

BASE_PATH = "/client/v4"
CONTROL_PATH = "/__sim__"
_ROUTE = re.compile(
    r"/accounts/([^/]+)/(access/logs/access_requests|access/logs/scim/updates|access/identity_providers|logs/audit)"
)
_ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "access/logs/access_requests": ACCESS_REQUESTS,
        "access/logs/scim/updates": SCIM_UPDATES,
        "access/identity_providers": "identity_providers",
        "logs/audit": AUDIT_LOGS,
    }
)
_RAY_MULTIPLIER = 0x9E3779B97F4A7C15
# What a faulted answer with ``ratelimit_headers`` reports: a budget barely touched, nothing to wait for.
_UNSPENT_BUDGET = RateDecision(allowed=True, limit=1200, remaining=1190, reset=280, window=300)


class Simulator:
    """A fake Cloudflare API v4 on 127.0.0.1; see the package docstring for the whole surface.

    ``clock`` (epoch seconds) drives record visibility, the rate limiter and fault durations; tests pass a
    ``ManualClock`` to move time without sleeping.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self.clock = clock
        self.store = RecordStore(self.config, clock)
        self.faults = FaultPlan(clock)
        self.rate_limiter = RateLimiter(self.config.rate_limit, clock)
        self.violations: list[str] = []
        self.requests: deque[ReceivedRequest] = deque(maxlen=self.config.request_log_limit)
        self.stats = SimulatorStats()
        self.operations: dict[str, Operation] = load_operations()
        self._authenticator = Authenticator(self.config.credentials)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._answers = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_routes(control_routes(self, CONTROL_PATH))
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self) -> str:
        """Serve on ``config.host:config.port`` (0 = a free port); returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        # Handlers still sleeping in a slow fault are cancelled on stop rather than waited for.
        self._runner, port = await serve_app(
            self.make_app(), host=self.config.host, port=self.config.port, shutdown_timeout=0.1
        )
        host = self._runner.addresses[0][0]
        self._base_url = f"http://{host}:{port}{BASE_PATH}"
        return self._base_url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/client/v4``; only once started."""
        if self._base_url is None:
            raise RuntimeError("the simulator has not been started")
        return self._base_url

    @property
    def control_url(self) -> str:
        return self.base_url.removesuffix(BASE_PATH) + CONTROL_PATH

    # -- ground truth and injection --------------------------------------------------------------------

    def records(self, account_id: str, log_type: str) -> list[JsonObject]:
        """Every record of the stream, visible yet or not, in time order: what a poller must deliver."""
        return self.store.records(account_id, log_type)

    def add_records(
        self,
        account_id: str,
        log_type: str,
        records: Iterable[Mapping[str, object]],
        visible_after: float = 0.0,
    ) -> int:
        """Inject records; each becomes visible ``visible_after`` seconds (simulator clock) from now.

        The record's time is its ``created_at``/``logged_at``; without one it is placed at now. A SCIM
        record is found by the ``idp_id`` it carries. Returns how many were added.
        """
        return self.store.add(account_id, log_type, records, visible_after)

    def identity_providers(self, account_id: str) -> list[JsonObject]:
        return [
            provider.to_json(account_id) for provider in self.store.directories[account_id].identity_providers
        ]

    def scim_provider_ids(self, account_id: str) -> list[str]:
        return [provider.id for provider in self.store.directories[account_id].scim_providers]

    def generate_all(self) -> None:
        """Build every stream now instead of on first use (benchmarks keep it out of their timings)."""
        self.store.generate_all()

    def clear_observations(self) -> None:
        """Forget requests, violations and stats (not records, faults or rate-limit budgets)."""
        self.requests.clear()
        self.violations.clear()
        self.stats = SimulatorStats()

    # -- answering -------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # Half the round trip before the edge sees the request (and counts it), half after it answers.
        half_trip = self.config.latency / self.config.rate_limit.time_scale / 2
        if half_trip:
            await asyncio.sleep(half_trip)
        response = await self._answer_request(request)
        if half_trip:
            await asyncio.sleep(half_trip)
        return response

    async def _answer_request(self, request: web.Request) -> web.StreamResponse:
        pairs = list(request.query.items())
        received = ReceivedRequest(request.method, request.path, pairs, self.clock())
        self.requests.append(received)
        relative = request.path.removeprefix(BASE_PATH) if request.path.startswith(BASE_PATH + "/") else None
        route = _ROUTE.fullmatch(relative) if relative is not None else None
        endpoint = _ENDPOINTS[route.group(2)] if route else None
        self.stats.requests_by_endpoint[endpoint or "unknown"] += 1

        effects = self.faults.take(relative if relative is not None else request.path)
        for kind in effects.applied:
            self.stats.faults_applied[kind.value] += 1
        if effects.delay:
            await asyncio.sleep(effects.delay)
        if effects.answer is not None:
            return self._faulted(request, received, effects.answer, effects)

        caller = self._authenticator.identify(request.headers, request.remote or "unknown")
        received.credential = caller.credential.label if caller.credential else None
        received.auth_scheme = caller.scheme
        decision = self.rate_limiter.spend(caller.bucket)
        self.stats.rate_limit_blocks += decision.started_block
        verification = tokens.ROUTE.fullmatch(relative) if relative is not None else None
        if decision.allowed and verification is not None:
            status, body = tokens.verify(caller, verification.group(1))
        elif decision.allowed:
            account = route.group(1) if route else ""
            paging = endpoints.Paging(effects.ignore_page, effects.page_cap)
            status, body = self._answer(request, endpoint, account, caller, pairs, paging)
        else:
            status, body = self._rate_limited()
        return self._respond(received, status, encode(body), "application/json", decision.headers())

    def _answer(
        self,
        request: web.Request,
        endpoint: str | None,
        account: str,
        caller: Caller,
        pairs: Sequence[tuple[str, str]],
        paging: endpoints.Paging,
    ) -> tuple[int, JsonObject]:
        if endpoint is None:
            return failure(Failure.NO_ROUTE)
        if request.method != "GET":
            return failure(Failure.METHOD_NOT_ALLOWED)
        operation = self.operations[endpoint]
        self._violate(operation, operation.path_problems("account_id", account))
        if not ACCOUNT_ID_FORMAT.fullmatch(account):
            return failure(Failure.INVALID_IDENTIFIER, path=request.path)
        if caller.failure is not None:
            return failure(caller.failure)
        assert caller.credential is not None
        refusal = authorize(caller.credential, account, operation.permissions)
        if refusal is not None or account not in self.store.directories:
            return failure(Failure.FORBIDDEN)
        problems = operation.query_problems(pairs)
        if problems:
            self._violate(operation, problems)
            return failures(Failure.INVALID_PARAMETER, problems)
        query = endpoints.Query.from_pairs(pairs)
        try:
            if endpoint == "identity_providers":
                directory = self.store.directories[account]
                return 200, endpoints.identity_providers(directory, account, query, paging)
            stream = self.store.stream(account, endpoint)
            if endpoint == ACCESS_REQUESTS:
                return 200, endpoints.access_requests(stream, query, paging)
            if endpoint == AUDIT_LOGS:
                return 200, endpoints.audit_logs(stream, query, paging)
            return 200, endpoints.scim_updates(stream, query, paging)
        except endpoints.InvalidQuery as invalid:
            self._violate(operation, invalid.problems)
            return failures(Failure.INVALID_PARAMETER, invalid.problems)

    def _violate(self, operation: Operation, problems: list[str]) -> None:
        self.violations.extend(f"{operation.operation_id}: {problem}" for problem in problems)

    def _rate_limited(self) -> tuple[int, JsonObject]:
        policy = self.config.rate_limit
        return failure(Failure.RATE_LIMITED, requests=policy.requests, period=f"{policy.period:g}")

    def _faulted(
        self, request: web.Request, received: ReceivedRequest, fault: Fault, effects: FaultEffects
    ) -> web.StreamResponse:
        headers = _UNSPENT_BUDGET.headers() if fault.ratelimit_headers else {}
        if fault.kind is FaultKind.CONNECTION_RESET:
            self.stats.connection_resets += 1
            _reset(request)
            # Nothing may be written after the reset; cancelling the handler is how aiohttp lets go quietly.
            raise asyncio.CancelledError
        if fault.kind is FaultKind.NON_JSON:
            reason = HTTPStatus(fault.status).phrase
            page = (
                fault.body
                if fault.body is not None
                else PROXY_ERROR_PAGE.format(status=fault.status, reason=reason)
            )
            return self._respond(received, fault.status, page.encode(), "text/html", headers)
        if fault.kind is FaultKind.SERVER_ERROR:
            _, body = failure(Failure.SERVER_ERROR, reason=HTTPStatus(fault.status).phrase)
            return self._respond(received, fault.status, encode(body), "application/json", headers)
        if fault.kind is FaultKind.ODD_ENVELOPE:
            assert fault.shape is not None
            return self._respond(received, 200, ODD_BODIES[fault.shape], "application/json", headers)
        status, body = self._rate_limited()
        headers["Retry-After"] = str(effects.retry_after if effects.retry_after is not None else 1)
        return self._respond(received, status, encode(body), "application/json", headers)

    def _respond(
        self, received: ReceivedRequest, status: int, body: bytes, content_type: str, headers: dict[str, str]
    ) -> web.Response:
        self._answers += 1
        ray = (self._answers * _RAY_MULTIPLIER) & ((1 << 64) - 1)
        received.status = status
        self.stats.answered(status)
        response = web.Response(status=status, body=body, content_type=content_type, headers=headers)
        response.headers["CF-RAY"] = f"{ray:016x}-SIM"
        return response


def _reset(request: web.Request) -> None:
    """Abort with SO_LINGER 0 so the client sees a TCP RST (ECONNRESET), not a polite close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
