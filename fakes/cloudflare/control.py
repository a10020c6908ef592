"""``/__sim__/*``: the simulator's Python API over HTTP, for tests that run the forwarder as a subprocess.

- ``GET /__sim__/stats``: requests per endpoint, statuses, 429s sent, blocks, resets, faults, violations.
- ``GET /__sim__/faults``: the faults in force.
- ``POST /__sim__/faults``: add one, e.g.
  ``{"kind": "too_many_requests", "count": 3, "retry_after": 2, "path": "*/scim/updates"}``
  (keys are those of ``Fault``); answers 201 with its ``id``. The kinds and the keys they use:
  ``too_many_requests`` (``retry_after``), ``block`` (``duration``), ``server_error`` (``status``),
  ``slow`` (``delay``), ``connection_reset``, ``non_json`` (``status``, ``body``), ``ignore_page``,
  ``page_cap`` (``size``), ``odd_envelope`` (``shape``: ``success_missing``, ``success_false``,
  ``result_not_list``, ``result_null``, ``empty_body``, ``array_body``, ``truncated_json``); any of them
  takes ``count``, ``duration`` and ``path``, and the answering ones ``ratelimit_headers`` (true/false).
  ``block``, ``ignore_page`` and ``page_cap`` default to no ``count`` limit, the others to 1.
- ``DELETE /__sim__/faults`` and ``DELETE /__sim__/faults/{id}``: remove all, or one.
- ``GET /__sim__/records?account_id=..&log_type=..``: the ground truth of a stream.
- ``POST /__sim__/records``: inject,
  ``{"account_id": .., "log_type": .., "records": [..], "visible_after": 0}``.
- ``GET /__sim__/requests``: the requests received (secrets removed).

These paths need no credentials, are not rate limited, faulted, counted or recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import orjson
from aiohttp import web

from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.faults import Fault, FaultPlan
from fakes.cloudflare.observations import ReceivedRequest, SimulatorStats


class Controlled(Protocol):
    """What these routes read and change of the simulator; the server passes itself, so this module
    needs nothing of the server's (which imports it to mount the routes)."""

    @property
    def stats(self) -> SimulatorStats: ...
    @property
    def violations(self) -> list[str]: ...
    @property
    def faults(self) -> FaultPlan: ...
    @property
    def requests(self) -> Iterable[ReceivedRequest]: ...

    def records(self, account_id: str, log_type: str) -> list[JsonObject]: ...

    def add_records(
        self,
        account_id: str,
        log_type: str,
        records: Iterable[Mapping[str, object]],
        visible_after: float = 0.0,
    ) -> int: ...


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _problem(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _body(request: web.Request) -> dict[str, object]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise web.HTTPBadRequest(text=f"body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body is not a JSON object")
    return body


class _Handlers:
    """One handler per control endpoint, each reading or changing ``simulator``."""

    def __init__(self, simulator: Controlled) -> None:
        self.simulator = simulator

    async def stats(self, request: web.Request) -> web.Response:
        return _json(self.simulator.stats.to_json(self.simulator.violations))

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json([active.to_json() for active in self.simulator.faults.active()])

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.from_json(await _body(request))
        except ValueError as error:
            return _problem(str(error))
        fault_id = self.simulator.faults.add(fault)
        return _json({"id": fault_id, **fault.to_json()}, 201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.simulator.faults.clear()
        return _json({"removed": "all"})

    async def remove_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["fault_id"])
        except ValueError:
            return _problem("fault id is an integer")
        if not self.simulator.faults.remove(fault_id):
            return _problem(f"no fault {fault_id}", 404)
        return _json({"removed": fault_id})

    async def get_records(self, request: web.Request) -> web.Response:
        account_id = request.query.get("account_id", "")
        log_type = request.query.get("log_type", "")
        try:
            return _json(self.simulator.records(account_id, log_type))
        except KeyError as error:
            return _problem(str(error.args[0]), 404)

    async def add_records(self, request: web.Request) -> web.Response:
        body = await _body(request)
        records = body.get("records")
        visible_after = body.get("visible_after", 0.0)
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            return _problem("records is a list of objects")
        if not isinstance(visible_after, int | float):
            return _problem("visible_after is a number of seconds")
        try:
            added = self.simulator.add_records(
                str(body.get("account_id", "")), str(body.get("log_type", "")), records, float(visible_after)
            )
        except KeyError as error:
            return _problem(str(error.args[0]), 404)
        return _json({"added": added}, 201)

    async def requests(self, request: web.Request) -> web.Response:
        return _json([received.to_json() for received in self.simulator.requests])


def control_routes(simulator: Controlled, prefix: str) -> list[web.RouteDef]:
    handlers = _Handlers(simulator)
    return [
        web.get(f"{prefix}/stats", handlers.stats),
        web.get(f"{prefix}/faults", handlers.list_faults),
        web.post(f"{prefix}/faults", handlers.add_fault),
        web.delete(f"{prefix}/faults", handlers.clear_faults),
        web.delete(f"{prefix}/faults/{{fault_id}}", handlers.remove_fault),
        web.get(f"{prefix}/records", handlers.get_records),
        web.post(f"{prefix}/records", handlers.add_records),
        web.get(f"{prefix}/requests", handlers.requests),
    ]
