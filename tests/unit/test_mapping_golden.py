"""The exact ECS and OCSF output for the documented sample responses and hand-made cases.

The inputs under tests/golden/input/ are copies of Cloudflare's documented responses
(../shared/reference/cloudflare/samples/), realistic SCIM traffic from Okta and Azure AD, and account
audit logs assembled from the OpenAPI spec's examples plus hand-made cases (input/README.md).
A change to the mapping shows up here as a diff a reviewer reads; regenerate deliberately with
`FORWARDER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_mapping_golden.py`.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from forwarder.formats import Format
from forwarder.map_command import run_map
from forwarder.records import LogType
from tests.unit.mapping_support import GOLDEN

ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"  # the account id example in Cloudflare's OpenAPI spec
OBSERVED = datetime(2026, 8, 20, 12, 0, 0, 250000, tzinfo=UTC)
UPDATE = os.environ.get("FORWARDER_UPDATE_GOLDEN") == "1"

INPUTS = sorted(path for path in (GOLDEN / "input").iterdir() if path.suffix in (".json", ".ndjson"))


def _log_type(path: Path) -> LogType:
    return next(log_type for log_type in LogType if path.name.startswith(log_type.value))


def _mapped(fmt: Format, path: Path) -> bytes:
    out, err = io.BytesIO(), io.StringIO()
    code = run_map(
        fmt,
        _log_type(path),
        io.BytesIO(path.read_bytes()),
        out,
        err,
        account_id=ACCOUNT_ID,
        observed=OBSERVED,
    )
    assert (code, err.getvalue()) == (0, "")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["ecs", "ocsf"])
@pytest.mark.parametrize("path", INPUTS, ids=[path.name for path in INPUTS])
def test_output_matches_the_golden_file(fmt: Format, path: Path) -> None:
    expected_path = GOLDEN / fmt / f"{path.name.split('.')[0]}.{path.name.split('.')[1]}.ndjson"
    actual = _mapped(fmt, path)
    if UPDATE:
        expected_path.write_bytes(actual)
    assert actual == expected_path.read_bytes()


def test_every_golden_input_has_its_records_mapped() -> None:
    for path in INPUTS:
        lines = _mapped("ecs", path).splitlines()
        text = path.read_bytes()
        expected = len(orjson.loads(text)["result"]) if path.suffix == ".json" else len(text.splitlines())
        assert len(lines) == expected, path.name
