"""Shared by the mapping tests: the documented sample record, a fixed clock, the OCSF validators."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

OBSERVED = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
# The account id example in Cloudflare's OpenAPI spec.
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
# The access request of Cloudflare's "Access authentication logs" documentation.
DOCUMENTED_ACCESS_REQUEST: dict[str, Any] = {
    "user_email": "michelle@example.com",
    "ip_address": "198.41.129.166",
    "app_uid": "df7e2w5f-02b7-4d9d-af26-8d1988fca630",
    "app_domain": "test.example.com/admin",
    "action": "login",
    "connection": "saml",
    "allowed": False,
    "created_at": "2014-01-01T05:20:00.12345Z",
    "ray_id": "187d944c61940c77",
}

SCHEMAS = files("forwarder").joinpath("schemas")
# Validators of the OCSF classes the mapping emits, by class_uid.
OCSF_VALIDATORS = {
    class_uid: Draft202012Validator(orjson.loads(SCHEMAS.joinpath(name).read_bytes()))
    for class_uid, name in (
        (3001, "ocsf_1.8.0_3001_account_change.schema.json"),
        (3002, "ocsf_1.8.0_3002_authentication.schema.json"),
        (3006, "ocsf_1.8.0_3006_group_management.schema.json"),
        (6003, "ocsf_1.8.0_6003_api_activity.schema.json"),
    )
}


def with_fields(base: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``fields``; a field given as ``"<drop>"`` is left out."""
    return {key: value for key, value in {**base, **fields}.items() if value != "<drop>"}


# The golden files: inputs and the documents each format must map them to, byte for byte.
GOLDEN = Path(__file__).resolve().parent.parent / "golden"
