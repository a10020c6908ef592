"""The fake Kubernetes API server: its state, faults and answers, over HTTP or in-process."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web

from fakes.kubernetes_api.faults import Dropped, Fault, GaveUp, PartitionMode, ReceivedRequest, Write
from fakes.kubernetes_api.objects import (
    KINDS,
    ROUTE,
    STATUS_REASONS,
    Answer,
    JsonObject,
    json_answer,
    parse_object,
    status_answer,
)
from fakes.serving import serve_app


@dataclass
class FakeKubernetesApi:
    host: str = "127.0.0.1"
    port: int = 0
    forbidden: set[str] = field(default_factory=set)
    latency: float = 0.0
    latency_by_token: dict[str, float] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    deletions: list[Write] = field(default_factory=list)
    # None: every namespace exists.
    namespaces: set[str] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        self.objects: dict[tuple[str, str, str], JsonObject] = {}
        self.version = 1000
        self._partitioned: dict[str, asyncio.Event] = {}
        self._partition_modes: dict[str, PartitionMode] = {}
        self._conflicts: dict[tuple[str, str], int] = {}
        self.faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._closing = asyncio.Event()
        # Hanging (partitioned) requests must not hold the shutdown up.
        self._runner, self.port = await serve_app(app, host=self.host, port=self.port, shutdown_timeout=0.1)
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- faults --------------------------------------------------------------------------------------

    def partition(self, token: str, *, mode: PartitionMode = "timeout", seconds: float | None = None) -> None:
        """Cut ``token`` off until :meth:`heal` (or for ``seconds`` of real time): its requests hang
        unanswered (``timeout``: the client's timeout ends them) or its connections drop (``refuse``)."""
        self._partitioned.setdefault(token, asyncio.Event())
        self._partition_modes[token] = mode
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, self.heal, token)

    def heal(self, token: str) -> None:
        self._partition_modes.pop(token, None)
        event = self._partitioned.pop(token, None)
        if event is not None:
            event.set()

    def fail_next(
        self,
        status: int = 500,
        *,
        count: int = 1,
        retry_after: float | str | None = None,
        method: str | None = None,
        plural: str | None = None,
        name: str | None = None,
        token: str | None = None,
    ) -> None:
        """The next ``count`` matching requests are answered ``status`` (a ``Status`` object), with a
        ``Retry-After`` header when given: a 500, an overloaded API's 503 or 429."""
        header = None if retry_after is None else str(retry_after)
        self.faults.append(Fault("status", status, header, method, plural, name, token, count))

    def time_out_next(
        self,
        *,
        count: int = 1,
        method: str | None = None,
        plural: str | None = None,
        name: str | None = None,
        token: str | None = None,
    ) -> None:
        """The next ``count`` matching requests are never answered: the client's timeout ends them."""
        self.faults.append(Fault("timeout", 0, None, method, plural, name, token, count))

    def reset_next(
        self,
        *,
        count: int = 1,
        method: str | None = None,
        plural: str | None = None,
        name: str | None = None,
        token: str | None = None,
    ) -> None:
        """The next ``count`` matching requests see their connection dropped, unanswered."""
        self.faults.append(Fault("reset", 0, None, method, plural, name, token, count))

    def pending_faults(self) -> int:
        return sum(fault.remaining for fault in self.faults)

    def conflict_next(self, plural: str, name: str, count: int = 1) -> None:
        """The next ``count`` writes of the object lose a race to a writer that changed nothing."""
        self._conflicts[(plural, name)] = self._conflicts.get((plural, name), 0) + count

    # -- what tests read -----------------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> JsonObject | None:
        found = self.objects.get((plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def put_object(self, plural: str, namespace: str, body: JsonObject) -> JsonObject:
        """Store an object directly, as another client would have (for test setup)."""
        stored = self._stamp(plural, namespace, copy.deepcopy(body), None)
        self.objects[(plural, namespace, stored["metadata"]["name"])] = stored
        return copy.deepcopy(stored)

    def delete(self, plural: str, namespace: str, name: str) -> bool:
        """Remove an object, as ``kubectl delete`` would; False when there was none."""
        found = self.objects.pop((plural, namespace, name), None)
        if found is not None:
            self.deletions.append(Write(self.clock(), None, plural, name, "DELETE", copy.deepcopy(found)))
        return found is not None

    def writes_of(self, plural: str, name: str) -> list[Write]:
        return [write for write in self.writes if write.kind == plural and write.name == name]

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport answering from this fake in-process: no server, no sockets."""
        return InProcessTransport(self)

    # -- answering -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            answer = await self.answer(request.method, request.path, request.headers, body)
        except Dropped:
            transport = request.transport
            if transport is not None:
                transport.abort()
            # The client sees the connection drop; aiohttp does not write to an aborted transport.
            return web.Response(status=500)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    async def answer(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        give_up_after: float | None = None,
    ) -> Answer:
        """The answer to one request, after its faults. Raises Dropped for a connection closed
        unanswered, GaveUp when a hanging request outlives ``give_up_after`` (the client's timeout)."""
        authorization = headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else None
        received = ReceivedRequest(self.clock(), token, method, path, headers.get("User-Agent", ""))
        self.requests.append(received)
        if token is not None and token in self._partitioned:
            if self._partition_modes.get(token) == "refuse":
                received.fault = "refused"
                raise Dropped(refused=True)
            received.fault = "timeout"
            await self._hang(self._partitioned[token], give_up_after)
            received.status = 504
            return status_answer(504, "Timeout", "the client was partitioned away")
        fault = self._fault_for(method, path, token)
        if fault is not None and fault.kind == "reset":
            received.fault = "reset"
            raise Dropped()
        if fault is not None and fault.kind == "timeout":
            received.fault = "timeout"
            await self._hang(asyncio.Event(), give_up_after)
            raise Dropped()  # closing: the client has long given up
        delay = self.latency_by_token.get(token or "", self.latency)
        if delay:
            await self.sleep(delay)
        if fault is not None:
            answer = status_answer(
                fault.status, STATUS_REASONS.get(fault.status, "InternalError"), "injected fault"
            )
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
        else:
            answer = self._answer(method, path, body, token)
        received.status = answer.status
        return answer

    def _fault_for(self, method: str, path: str, token: str | None) -> Fault | None:
        match = ROUTE.match(path)
        if match is None:
            return None
        _, _, plural, name = match.groups()
        for fault in self.faults:
            if fault.matches(method, plural, name or "", token):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _hang(self, healed: asyncio.Event, give_up_after: float | None = None) -> None:
        waits: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(self._closing.wait()),
            asyncio.ensure_future(healed.wait()),
        }
        timer = asyncio.ensure_future(self.sleep(give_up_after)) if give_up_after is not None else None
        if timer is not None:
            waits.add(timer)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if timer is not None and timer.done() and not timer.cancelled() and not healed.is_set():
            raise GaveUp()

    def _answer(self, method: str, path: str, body: bytes, token: str | None) -> Answer:
        if token is None:
            return status_answer(401, "Unauthorized", "Unauthorized")
        match = ROUTE.match(path)
        if match is None:
            return status_answer(404, "NotFound", "the server could not find the requested resource")
        prefix, namespace, plural, name = match.groups()
        if token in self.forbidden:
            verb = {"GET": "get", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(
                method, method.lower()
            )
            group = "" if prefix == "api/v1" else "coordination.k8s.io"
            return status_answer(
                403,
                "Forbidden",
                f'{plural} "{name or ""}" is forbidden: User "system:serviceaccount:{namespace}:forwarder" '
                f'cannot {verb} resource "{plural}" in API group "{group}" in the namespace "{namespace}"',
            )
        if method == "GET" and name:
            found = self.objects.get((plural, namespace, name))
            if found is None:
                return status_answer(404, "NotFound", f'{plural} "{name}" not found', name, plural)
            return json_answer(200, found)
        if method == "POST" and not name:
            if self.namespaces is not None and namespace not in self.namespaces:
                return status_answer(
                    404, "NotFound", f'namespaces "{namespace}" not found', namespace, "namespaces"
                )
            return self._create(plural, namespace, body, token)
        if method == "PUT" and name:
            return self._replace(plural, namespace, name, body, token)
        if method == "DELETE" and name:
            if not self.delete(plural, namespace, name):
                return status_answer(404, "NotFound", f'{plural} "{name}" not found', name, plural)
            self.deletions[-1].token = token
            return json_answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return status_answer(405, "MethodNotAllowed", f"{method} is not supported by this fake on {path}")

    def _create(self, plural: str, namespace: str, body: bytes, token: str) -> Answer:
        parsed = parse_object(body, plural, namespace)
        if isinstance(parsed, Answer):
            return parsed
        name = parsed["metadata"].get("name", "")
        if (plural, namespace, name) in self.objects:
            return status_answer(409, "AlreadyExists", f'{plural} "{name}" already exists', name, plural)
        if parsed["metadata"].get("resourceVersion"):
            return status_answer(
                400, "BadRequest", "resourceVersion should not be set on objects to be created"
            )
        stored = self._stamp(plural, namespace, parsed, None)
        self.objects[(plural, namespace, name)] = stored
        self.writes.append(Write(self.clock(), token, plural, name, "POST", copy.deepcopy(stored)))
        return json_answer(201, stored)

    def _replace(self, plural: str, namespace: str, name: str, body: bytes, token: str) -> Answer:
        parsed = parse_object(body, plural, namespace)
        if isinstance(parsed, Answer):
            return parsed
        if parsed["metadata"].get("name") != name:
            return status_answer(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        current = self.objects.get((plural, namespace, name))
        if current is None:
            return status_answer(404, "NotFound", f'{plural} "{name}" not found', name, plural)
        if self._conflicts.get((plural, name), 0) > 0:
            self._conflicts[(plural, name)] -= 1
            # An invisible writer got there first: the stored version moves on.
            current = self._stamp(plural, namespace, current, current)
            self.objects[(plural, namespace, name)] = current
        asked = parsed["metadata"].get("resourceVersion")
        if asked and asked != current["metadata"]["resourceVersion"]:
            return status_answer(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                name,
                plural,
            )
        stored = self._stamp(plural, namespace, parsed, current)
        self.objects[(plural, namespace, name)] = stored
        self.writes.append(Write(self.clock(), token, plural, name, "PUT", copy.deepcopy(stored)))
        return json_answer(200, stored)

    def _stamp(self, plural: str, namespace: str, body: JsonObject, current: JsonObject | None) -> JsonObject:
        self.version += 1
        api_version, kind = next(value for (_, name), value in KINDS.items() if name == plural)
        metadata = dict(body.get("metadata") or {})
        previous = (current or {}).get("metadata") or {}
        metadata.update(
            {
                "namespace": namespace,
                "resourceVersion": str(self.version),
                "uid": previous.get("uid") or str(uuid.uuid4()),
                "creationTimestamp": previous.get("creationTimestamp")
                or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        return {**body, "apiVersion": api_version, "kind": kind, "metadata": metadata}


class InProcessTransport(httpx.AsyncBaseTransport):
    """httpx straight into the fake: what a dropped connection or a timeout would raise, raised."""

    def __init__(self, fake: FakeKubernetesApi) -> None:
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        timeouts = request.extensions.get("timeout") or {}
        try:
            answer = await self.fake.answer(
                request.method, request.url.path, request.headers, body, give_up_after=timeouts.get("read")
            )
        except Dropped as dropped:
            if dropped.refused:
                raise httpx.ConnectError(str(dropped), request=request) from None
            raise httpx.ReadError(str(dropped), request=request) from None
        except GaveUp:
            raise httpx.ReadTimeout("timed out", request=request) from None
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)
