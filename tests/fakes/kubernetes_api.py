"""A fake Kubernetes API server: only what the forwarder uses, answered as the real one answers it.

Endpoints: ConfigMaps (``/api/v1/namespaces/{ns}/configmaps``) and Leases
(``/apis/coordination.k8s.io/v1/namespaces/{ns}/leases``): get, create (POST) and replace (PUT).
As the real API server:

- every write bumps one cluster-wide ``resourceVersion`` (a string); a PUT whose
  ``metadata.resourceVersion`` differs from the stored one answers 409 ``Conflict``, a POST of an
  existing name 409 ``AlreadyExists``, a PUT of a missing object 404 ``NotFound``; errors are
  ``Status`` objects;
- a bearer token is required (401 without one); a token can be made ``forbidden`` (403, as RBAC);
- ConfigMap keys must match ``[-._a-zA-Z0-9]+`` and the whole object stay under 1 MiB (422
  ``Invalid``); Lease times must be MicroTime (RFC 3339 with six fractional digits, 400 otherwise),
  ``leaseDurationSeconds`` positive (422).

Faults, per client (identified by its bearer token, as the API server identifies a pod's service
account token): ``partition(token)`` stops answering that client at all (its requests hang, as
when packets are dropped) until ``heal(token)``; ``latency`` delays every answer (or one client's);
``conflict_next(count)`` makes the next writes of an object lose a race to an invisible writer (the
stored resourceVersion moves first, so the client must read again).

Everything is recorded for tests: ``requests`` (time, token, method, path, status) and ``writes``
(time, token, kind, name, the object written), with ``time.time()`` so that times compare with
the Cloudflare simulator's request log.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

JsonObject = dict[str, Any]

CONFIG_MAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
MAX_CONFIG_MAP_BYTES = 1024 * 1024

KINDS = {
    ("api/v1", "configmaps"): ("v1", "ConfigMap"),
    ("apis/coordination.k8s.io/v1", "leases"): ("coordination.k8s.io/v1", "Lease"),
}
ROUTE = re.compile(
    r"^/(api/v1|apis/coordination\.k8s\.io/v1)/namespaces/([^/]+)/(configmaps|leases)(?:/([^/]+))?$"
)


@dataclass
class ReceivedRequest:
    time: float
    token: str | None
    method: str
    path: str
    user_agent: str
    status: int | None = None


@dataclass
class Write:
    time: float
    token: str | None
    kind: str
    name: str
    method: str
    object: JsonObject


@dataclass
class FakeKubernetesApi:
    host: str = "127.0.0.1"
    port: int = 0
    forbidden: set[str] = field(default_factory=set)
    latency: float = 0.0
    latency_by_token: dict[str, float] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.objects: dict[tuple[str, str, str], JsonObject] = {}
        self.version = 1000
        self._partitioned: dict[str, asyncio.Event] = {}
        self._conflicts: dict[tuple[str, str], int] = {}
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._closing = asyncio.Event()
        # Hanging (partitioned) requests must not hold the shutdown up.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- faults --------------------------------------------------------------------------------------

    def partition(self, token: str) -> None:
        """Stop answering ``token``'s requests (they hang) until :meth:`heal`."""
        self._partitioned.setdefault(token, asyncio.Event())

    def heal(self, token: str) -> None:
        event = self._partitioned.pop(token, None)
        if event is not None:
            event.set()

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

    def writes_of(self, plural: str, name: str) -> list[Write]:
        return [write for write in self.writes if write.kind == plural and write.name == name]

    # -- answering -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else None
        received = ReceivedRequest(
            time.time(), token, request.method, request.path, request.headers.get("User-Agent", "")
        )
        self.requests.append(received)
        if token is not None and token in self._partitioned:
            await self._hang(self._partitioned[token])
            received.status = 504
            return self._status(504, "Timeout", "the client was partitioned away")
        delay = self.latency_by_token.get(token or "", self.latency)
        if delay:
            await asyncio.sleep(delay)
        body = await request.read()
        response = self._answer(request.method, request.path, body, token)
        received.status = response.status
        return response

    async def _hang(self, healed: asyncio.Event) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        healing = asyncio.ensure_future(healed.wait())
        try:
            await asyncio.wait({closing, healing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            healing.cancel()

    def _answer(self, method: str, path: str, body: bytes, token: str | None) -> web.Response:
        if token is None:
            return self._status(401, "Unauthorized", "Unauthorized")
        match = ROUTE.match(path)
        if match is None:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        prefix, namespace, plural, name = match.groups()
        if token in self.forbidden:
            verb = {"GET": "get", "POST": "create", "PUT": "update"}.get(method, method.lower())
            group = "" if prefix == "api/v1" else "coordination.k8s.io"
            return self._status(
                403,
                "Forbidden",
                f'{plural} "{name or ""}" is forbidden: User "system:serviceaccount:{namespace}:forwarder" '
                f'cannot {verb} resource "{plural}" in API group "{group}" in the namespace "{namespace}"',
            )
        if method == "GET" and name:
            found = self.objects.get((plural, namespace, name))
            if found is None:
                return self._status(404, "NotFound", f'{plural} "{name}" not found', name, plural)
            return self._json(200, found)
        if method == "POST" and not name:
            return self._create(plural, namespace, body, token)
        if method == "PUT" and name:
            return self._replace(plural, namespace, name, body, token)
        return self._status(405, "MethodNotAllowed", f"{method} is not supported by this fake on {path}")

    def _create(self, plural: str, namespace: str, body: bytes, token: str) -> web.Response:
        parsed = self._parse(body, plural, namespace)
        if isinstance(parsed, web.Response):
            return parsed
        name = parsed["metadata"].get("name", "")
        if (plural, namespace, name) in self.objects:
            return self._status(409, "AlreadyExists", f'{plural} "{name}" already exists', name, plural)
        if parsed["metadata"].get("resourceVersion"):
            return self._status(
                400, "BadRequest", "resourceVersion should not be set on objects to be created"
            )
        stored = self._stamp(plural, namespace, parsed, None)
        self.objects[(plural, namespace, name)] = stored
        self.writes.append(Write(time.time(), token, plural, name, "POST", copy.deepcopy(stored)))
        return self._json(201, stored)

    def _replace(self, plural: str, namespace: str, name: str, body: bytes, token: str) -> web.Response:
        parsed = self._parse(body, plural, namespace)
        if isinstance(parsed, web.Response):
            return parsed
        if parsed["metadata"].get("name") != name:
            return self._status(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        current = self.objects.get((plural, namespace, name))
        if current is None:
            return self._status(404, "NotFound", f'{plural} "{name}" not found', name, plural)
        if self._conflicts.get((plural, name), 0) > 0:
            self._conflicts[(plural, name)] -= 1
            # An invisible writer got there first: the stored version moves on.
            current = self._stamp(plural, namespace, current, current)
            self.objects[(plural, namespace, name)] = current
        asked = parsed["metadata"].get("resourceVersion")
        if asked and asked != current["metadata"]["resourceVersion"]:
            return self._status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                name,
                plural,
            )
        stored = self._stamp(plural, namespace, parsed, current)
        self.objects[(plural, namespace, name)] = stored
        self.writes.append(Write(time.time(), token, plural, name, "PUT", copy.deepcopy(stored)))
        return self._json(200, stored)

    def _parse(self, body: bytes, plural: str, namespace: str) -> JsonObject | web.Response:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return self._status(
                400, "BadRequest", f"the body of the request was in an unknown format: {error}"
            )
        if not isinstance(parsed, dict) or not isinstance(parsed.get("metadata"), dict):
            return self._status(400, "BadRequest", "the object has no metadata")
        if parsed["metadata"].get("namespace", namespace) != namespace:
            return self._status(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        problem = self._invalid(plural, parsed)
        if problem:
            kind = "ConfigMap" if plural == "configmaps" else "Lease"
            name = parsed["metadata"].get("name", "")
            status = 400 if "MicroTime" in problem else 422
            return self._status(
                status, "Invalid" if status == 422 else "BadRequest", f'{kind} "{name}" is invalid: {problem}'
            )
        return parsed

    def _invalid(self, plural: str, parsed: JsonObject) -> str:
        if not parsed["metadata"].get("name"):
            return "metadata.name: Required value: name or generateName is required"
        if plural == "configmaps":
            data = parsed.get("data") or {}
            if not isinstance(data, dict):
                return "data: Invalid value: must be a map of strings"
            for key, value in data.items():
                if not CONFIG_MAP_KEY.match(key):
                    return (
                        f"data[{key}]: Invalid value: {key!r}: a valid config key must consist of "
                        "alphanumeric characters, '-', '_' or '.'"
                    )
                if not isinstance(value, str):
                    return f"data[{key}]: Invalid value: must be a string"
            if len(orjson.dumps(data)) > MAX_CONFIG_MAP_BYTES:
                return f"[]: Too long: must have at most {MAX_CONFIG_MAP_BYTES} bytes"
            return ""
        spec = parsed.get("spec") or {}
        for time_field in ("acquireTime", "renewTime"):
            value = spec.get(time_field)
            if value is not None and not (isinstance(value, str) and MICRO_TIME.match(value)):
                return f"spec.{time_field}: {value!r} is not a MicroTime (RFC 3339 with microseconds)"
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            return "spec.leaseDurationSeconds: Invalid value: must be greater than 0"
        return ""

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

    def _json(self, status: int, body: JsonObject) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    def _status(self, code: int, reason: str, message: str, name: str = "", plural: str = "") -> web.Response:
        body: JsonObject = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if name:
            body["details"] = {"name": name, "kind": plural}
        return self._json(code, body)
