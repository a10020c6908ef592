"""Holds a document (one row for a Log Analytics table) to an ASIM column table in `forwarder/schemas/`.

A table lists every column of one ASIM schema with its Log Analytics type, its logical type, its class
(Mandatory, Recommended, Optional, Conditional, Alias), the allowed values of enumerated columns, and the
column a conditional one describes (`required_with`). See `forwarder/schemas/README.md` for the sources.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import resources
from typing import Any

AUTHENTICATION = "asim_authentication_0.1.4.json"
USER_MANAGEMENT = "asim_user_management_0.1.2.json"
AUDIT_EVENT = "asim_audit_event_0.1.json"

Table = Mapping[str, Any]
Column = Mapping[str, Any]


# A JSON value Log Analytics accepts for a column of each type. Booleans are ints in Python, so numbers
# exclude them explicitly; a datetime travels as an ISO 8601 string.
def _integer(bits: int) -> Callable[[Any], bool]:
    bound = 2 ** (bits - 1)
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "int": _integer(32),
    "long": _integer(64),
    "real": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "bool": lambda value: isinstance(value, bool),
    "datetime": lambda value: isinstance(value, str) and _is_iso_datetime(value),
    "dynamic": lambda value: True,
}


def load(name: str) -> Table:
    text = resources.files("forwarder").joinpath("schemas", name).read_text(encoding="utf-8")
    table: Table = json.loads(text)
    return table


def columns_by_name(table: Table) -> dict[str, Column]:
    return {column["name"]: column for column in table["columns"]}


def stored_columns(table: Table) -> list[Column]:
    """The columns a table in Log Analytics holds: aliases are added at query time, never stored."""
    return [column for column in table["columns"] if column["class"] != "Alias"]


def violations(document: Mapping[str, Any], table: Table) -> list[str]:
    """Every way `document` breaks `table`, one readable line each; empty when it conforms.

    A null value counts as absent, as it does in Log Analytics.
    """
    known = columns_by_name(table)
    present = {name: value for name, value in document.items() if value is not None}
    problems = [f"{name}: not a column of ASIM {table['schema']}" for name in present if name not in known]
    for name, value in present.items():
        column = known.get(name)
        if column is not None:
            problems.extend(_value_problems(name, value, column))
    for name, column in known.items():
        if name in present:
            continue
        if column["class"] == "Mandatory":
            problems.append(f"{name}: mandatory column missing")
        elif column.get("required_with") in present:
            problems.append(f"{name}: required because {column['required_with']} is set")
    return problems


def _value_problems(name: str, value: Any, column: Column) -> list[str]:
    kind = column["type"]
    if not _TYPE_CHECKS[kind](value):
        return [f"{name}: {value!r} is not of type {kind}"]
    if column.get("logical_type") == "IP address" and not _is_ip_address(value):
        return [f"{name}: {value!r} is not an IP address"]
    allowed = column.get("values")
    if allowed is not None and value not in allowed:
        return [f"{name}: {value!r} is not one of {', '.join(allowed)}"]
    return []


def _is_iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
