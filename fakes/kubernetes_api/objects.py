"""What the fake Kubernetes API routes, what it accepts as an object, and its ``Status`` answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

JsonObject = dict[str, Any]

CONFIG_MAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
MAX_CONFIG_MAP_BYTES = 1024 * 1024
STATUS_REASONS = {
    400: "BadRequest",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

KINDS = {
    ("api/v1", "configmaps"): ("v1", "ConfigMap"),
    ("apis/coordination.k8s.io/v1", "leases"): ("coordination.k8s.io/v1", "Lease"),
}
ROUTE = re.compile(
    r"^/(api/v1|apis/coordination\.k8s\.io/v1)/namespaces/([^/]+)/(configmaps|leases)(?:/([^/]+))?$"
)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_answer(status: int, body: JsonObject) -> Answer:
    return Answer(status, orjson.dumps(body), {"Content-Type": "application/json"})


def status_answer(code: int, reason: str, message: str, name: str = "", plural: str = "") -> Answer:
    """A ``Status`` object, as the API server answers every failure."""
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
    return json_answer(code, body)


def parse_object(body: bytes, plural: str, namespace: str) -> JsonObject | Answer:
    """The object of a POST or PUT body, or the answer refusing it."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return status_answer(400, "BadRequest", f"the body of the request was in an unknown format: {error}")
    if not isinstance(parsed, dict) or not isinstance(parsed.get("metadata"), dict):
        return status_answer(400, "BadRequest", "the object has no metadata")
    if parsed["metadata"].get("namespace", namespace) != namespace:
        return status_answer(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    problem = _invalid(plural, parsed)
    if problem:
        kind = "ConfigMap" if plural == "configmaps" else "Lease"
        name = parsed["metadata"].get("name", "")
        status = 400 if "MicroTime" in problem else 422
        return status_answer(
            status, "Invalid" if status == 422 else "BadRequest", f'{kind} "{name}" is invalid: {problem}'
        )
    return parsed


def _invalid(plural: str, parsed: JsonObject) -> str:
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
