"""Requests held to the OpenAPI excerpts in ``openapi/``: the contract the forwarder must keep.

Only what the excerpts say is checked: parameter names, ``required``, ``type`` (integer, number, boolean,
string, array), ``enum``, ``maximum``/``minimum``, ``maxLength`` and the ``date-time``, ``email`` and
``uuid`` formats. Arrays are ``style: form, explode: true``: repeated keys (``?idp_id=A&idp_id=B``); a
comma inside one value is the non-exploded form and is reported, as is a repeated non-array key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from fakes.cloudflare.timestamps import parse_rfc3339

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INTEGER = re.compile(r"-?\d+")

SPEC_FILES: Mapping[str, str] = MappingProxyType(
    {
        "access_requests": "access_requests.resolved.json",
        "scim_updates": "scim_updates.resolved.json",
        "audit_logs": "audit_logs.resolved.json",
        "identity_providers": "identity_providers_list.resolved.json",
    }
)


@dataclass(frozen=True)
class Schema:
    type: str | None = None
    format: str | None = None
    enum: tuple[str, ...] | None = None
    maximum: float | None = None
    minimum: float | None = None
    max_length: int | None = None
    items: Schema | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Schema:
        enum = raw.get("enum")
        items = raw.get("items")
        maximum, minimum, max_length = raw.get("maximum"), raw.get("minimum"), raw.get("maxLength")
        return cls(
            type=str(raw["type"]) if "type" in raw else None,
            format=str(raw["format"]) if "format" in raw else None,
            enum=tuple(str(value) for value in enum) if isinstance(enum, list) else None,
            maximum=float(maximum) if isinstance(maximum, int | float) else None,
            minimum=float(minimum) if isinstance(minimum, int | float) else None,
            max_length=max_length if isinstance(max_length, int) else None,
            items=cls.from_json(items) if isinstance(items, dict) else None,
        )

    def problem(self, value: str) -> str | None:
        """Why ``value`` does not fit this (scalar) schema, or None when it fits."""
        if self.type == "integer":
            if not _INTEGER.fullmatch(value):
                return f"{value!r} is not an integer"
            return self._bounds(int(value))
        if self.type == "number":
            try:
                number = float(value)
            except ValueError:
                return f"{value!r} is not a number"
            return self._bounds(number)
        if self.type == "boolean" and value not in ("true", "false"):
            return f"{value!r} is not true or false"
        if self.enum is not None and value not in self.enum:
            return f"{value!r} is not one of {', '.join(self.enum)}"
        if self.max_length is not None and len(value) > self.max_length:
            return f"{value!r} is longer than {self.max_length} characters"
        return self._format_problem(value)

    def _bounds(self, number: float) -> str | None:
        if self.maximum is not None and number > self.maximum:
            return f"{number:g} is greater than the maximum {self.maximum:g}"
        if self.minimum is not None and number < self.minimum:
            return f"{number:g} is less than the minimum {self.minimum:g}"
        return None

    def _format_problem(self, value: str) -> str | None:
        if self.format == "date-time" and parse_rfc3339(value) is None:
            return f"{value!r} is not an RFC 3339 date-time"
        if self.format == "email" and not re.fullmatch(r"[^@\s]*@?[^@\s]*", value):
            return f"{value!r} is not an email address"
        if self.format == "uuid" and not _UUID.fullmatch(value):
            return f"{value!r} is not a UUID"
        return None


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: Schema

    @property
    def is_array(self) -> bool:
        return self.schema.type == "array"


@dataclass(frozen=True)
class Operation:
    name: str
    operation_id: str
    path: str
    permissions: tuple[str, ...]
    parameters: Mapping[str, Parameter]

    def query_problems(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """Every way the query string breaks the contract; empty when it keeps it."""
        problems: list[str] = []
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        for name, given in values.items():
            parameter = self.parameters.get(name)
            if parameter is None or parameter.location != "query":
                problems.append(f"unknown query parameter {name!r}")
                continue
            if parameter.is_array:
                item_schema = parameter.schema.items or Schema(type="string")
                for value in given:
                    if "," in value and item_schema.enum is None:
                        problems.append(f"{name}: {value!r} looks comma-joined; repeat the key per value")
                    elif problem := item_schema.problem(value):
                        problems.append(f"{name}: {problem}")
                continue
            if len(given) > 1:
                problems.append(f"{name}: given {len(given)} times but is not an array")
            if problem := parameter.schema.problem(given[-1]):
                problems.append(f"{name}: {problem}")
        for parameter in self.parameters.values():
            if parameter.location == "query" and parameter.required and parameter.name not in values:
                problems.append(f"{parameter.name}: required but missing")
        return problems

    def path_problems(self, name: str, value: str) -> list[str]:
        parameter = self.parameters.get(name)
        if parameter is None:
            return []
        problem = parameter.schema.problem(value)
        return [f"path parameter {name}: {problem}"] if problem else []


def _operation_from_file(name: str, document: Mapping[str, object]) -> Operation:
    # The IdP excerpt keeps the operation without its (huge) responses under another key.
    raw = document.get("get") or document.get("get_without_responses")
    if not isinstance(raw, dict):
        raise ValueError(f"{SPEC_FILES[name]}: no GET operation")
    parameters: dict[str, Parameter] = {}
    for item in raw.get("parameters", []):
        location = str(item["in"])
        parameter_name = str(item["name"])
        if location == "path" and parameter_name == "account_or_zone_id":
            parameter_name = "account_id"
        parameters[parameter_name] = Parameter(
            name=parameter_name,
            location=location,
            required=bool(item.get("required", False)),
            schema=Schema.from_json(item.get("schema", {})),
        )
    return Operation(
        name=name,
        operation_id=str(raw.get("operationId", f"GET {document.get('path')}")),
        path=str(document.get("path", "")),
        permissions=tuple(str(group) for group in raw.get("x-api-token-group", [])),
        parameters=parameters,
    )


def load_operations() -> dict[str, Operation]:
    """The operations, keyed ``access_requests``, ``scim_updates``, ``audit_logs``, ``identity_providers``."""
    folder = resources.files("fakes.cloudflare").joinpath("openapi")
    operations: dict[str, Operation] = {}
    for name, filename in SPEC_FILES.items():
        document = json.loads(folder.joinpath(filename).read_text(encoding="utf-8"))
        operations[name] = _operation_from_file(name, document)
    return operations
