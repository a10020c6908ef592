"""The exact ASIM rows for the golden inputs (documented responses and hand-made cases), each row held to
its ASIM column table.

Regenerate deliberately with `FORWARDER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_asim_golden.py`
and read the diff.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from forwarder.map_command import run_map
from forwarder.records import LogType
from tests.support.asim_columns import (
    AUDIT_EVENT,
    AUTHENTICATION,
    USER_MANAGEMENT,
    load,
    stored_columns,
    violations,
)
from tests.unit.mapping_support import ACCOUNT, GOLDEN

OBSERVED = datetime(2026, 8, 20, 12, 0, 0, 250000, tzinfo=UTC)
UPDATE = os.environ.get("FORWARDER_UPDATE_GOLDEN") == "1"
# README.md is the folder's description, not an input.
INPUTS = sorted(path for path in (GOLDEN / "input").iterdir() if path.suffix in (".json", ".ndjson"))
TABLES = {
    LogType.ACCESS_REQUESTS: AUTHENTICATION,
    LogType.SCIM_UPDATES: USER_MANAGEMENT,
    LogType.AUDIT_LOGS: AUDIT_EVENT,
}


def log_type_of(path: Path) -> LogType:
    (log_type,) = [log_type for log_type in LogType if path.name.startswith(log_type.value)]
    return log_type


def mapped(path: Path) -> bytes:
    out, err = io.BytesIO(), io.StringIO()
    code = run_map(
        "asim",
        log_type_of(path),
        io.BytesIO(path.read_bytes()),
        out,
        err,
        account_id=ACCOUNT,
        observed=OBSERVED,
    )
    assert (code, err.getvalue()) == (0, "")
    return out.getvalue()


@pytest.mark.parametrize("path", INPUTS, ids=[path.name for path in INPUTS])
def test_rows_match_the_golden_file_and_their_asim_table(path: Path) -> None:
    expected_path = GOLDEN / "asim" / f"{'.'.join(path.name.split('.')[:2])}.ndjson"
    actual = mapped(path)
    if UPDATE:
        expected_path.write_bytes(actual)
    assert actual == expected_path.read_bytes()

    table = load(TABLES[log_type_of(path)])
    stored = {column["name"] for column in stored_columns(table)}
    lines = actual.splitlines()
    source = path.read_bytes()
    assert len(lines) == (
        len(orjson.loads(source)["result"]) if path.suffix == ".json" else len(source.splitlines())
    )
    for line in lines:
        row = orjson.loads(line)
        assert violations(row, table) == [], row
        # An alias would be dropped by the data collection rule, whose stream declares stored columns only.
        assert set(row) <= stored, set(row) - stored
