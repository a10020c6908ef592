"""Holding an ECS document to ECS 9.4: every field exists, with the right type and allowed values.

ECS publishes no JSON Schema, only its field list, so the profile shipped in
``forwarder/schemas/ecs_9.4.0_profile.json`` (built by ``scripts/build_ecs_profile.py``) is
checked here directly. Fields under ``cloudflare.`` are this forwarder's vendor namespace and
are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

import orjson

from forwarder.formats.values import ip_address

PROFILE_RESOURCE = "schemas/ecs_9.4.0_profile.json"
VENDOR_NAMESPACE = "cloudflare"

_STRINGS = frozenset({"keyword", "constant_keyword", "wildcard", "match_only_text", "text"})
_INTEGERS = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_NUMBERS = frozenset({"float", "double", "scaled_float", "half_float"})
# Types whose value is a whole object: the walk stops there instead of descending.
_CONTAINERS = frozenset({"object", "flattened", "nested", "geo_point"})


@dataclass(frozen=True)
class EcsProfile:
    version: str
    fields: Mapping[str, str]
    array_fields: frozenset[str]
    allowed_values: Mapping[str, frozenset[str]]
    expected_event_types: Mapping[str, frozenset[str]]


@lru_cache(maxsize=1)
def load_profile() -> EcsProfile:
    raw = orjson.loads(files("forwarder").joinpath(PROFILE_RESOURCE).read_bytes())
    return EcsProfile(
        version=raw["ecs_version"],
        fields=raw["fields"],
        array_fields=frozenset(raw["array_fields"]),
        allowed_values={name: frozenset(values) for name, values in raw["allowed_values"].items()},
        expected_event_types={
            name: frozenset(values) for name, values in raw["expected_event_types"].items()
        },
    )


def _is_date(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _type_error(ecs_type: str, value: Any) -> str | None:
    if ecs_type in _STRINGS:
        ok = isinstance(value, str)
    elif ecs_type in _INTEGERS:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif ecs_type in _NUMBERS:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif ecs_type == "boolean":
        ok = isinstance(value, bool)
    elif ecs_type == "date":
        ok = _is_date(value)
    elif ecs_type == "ip":
        ok = ip_address(value) is not None
    elif ecs_type in ("object", "flattened"):
        ok = isinstance(value, dict)
    elif ecs_type == "nested":
        ok = isinstance(value, dict) or (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        )
    else:
        ok = value is not None
    return None if ok else f"is not a valid {ecs_type}: {value!r}"


def _check_field(profile: EcsProfile, name: str, value: Any, problems: list[str]) -> None:
    ecs_type = profile.fields[name]
    if name in profile.array_fields:
        if not isinstance(value, list):
            problems.append(f"{name}: ECS expects an array, got {value!r}")
            return
        values = value
    elif isinstance(value, list) and ecs_type not in ("nested", "geo_point"):
        problems.append(f"{name}: ECS expects a single value, got an array")
        return
    else:
        values = [value]
    for item in values:
        error = _type_error(ecs_type, item)
        if error is not None:
            problems.append(f"{name}: {error}")
    allowed = profile.allowed_values.get(name)
    if allowed is not None:
        problems.extend(f"{name}: {item!r} is not an allowed value" for item in values if item not in allowed)


def _walk(profile: EcsProfile, prefix: str, node: Mapping[str, Any], problems: list[str]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if name == VENDOR_NAMESPACE:
            if not isinstance(value, dict):
                problems.append(f"{name}: the vendor namespace must be an object")
            continue
        if name in profile.fields and (profile.fields[name] in _CONTAINERS or not isinstance(value, dict)):
            _check_field(profile, name, value, problems)
        elif isinstance(value, dict):
            _walk(profile, f"{name}.", value, problems)
        else:
            problems.append(f"{name}: not an ECS {profile.version} field")


def violations(document: Mapping[str, Any]) -> list[str]:
    """Every way the document departs from ECS; empty when it conforms."""
    profile = load_profile()
    problems: list[str] = []
    _walk(profile, "", document, problems)
    event = document.get("event")
    if isinstance(event, dict):
        categories = event.get("category")
        types = event.get("type")
        if isinstance(categories, list) and isinstance(types, list):
            for category in categories:
                expected = profile.expected_event_types.get(category, frozenset())
                problems.extend(
                    f"event.type {event_type!r} is not allowed with event.category {category!r}"
                    for event_type in types
                    if event_type not in expected
                )
    return problems
