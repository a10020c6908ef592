"""The input fields the mappings know, and the vendor identity both formats name.

A field not listed here is kept under the vendor namespace (``cloudflare.*`` in ECS,
``unmapped`` in OCSF), never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forwarder.formats.values import country_code
from forwarder.records import INFO_KEY, PARSED_KEY

VENDOR = "Cloudflare"
PRODUCT = "Cloudflare Access"

ACCESS_FIELDS = frozenset(
    {
        "action",
        "allowed",
        "app_domain",
        "app_uid",
        "connection",
        "created_at",
        "ip_address",
        "ray_id",
        "user_email",
        # Not in the response schema yet, but the endpoint filters on them (user_id, country_code).
        "user_id",
        "country_code",
        # Not in the API's schema, but in records exported from Logpush (Elastic's pipeline reads it).
        "country",
    }
)
SCIM_FIELDS = frozenset(
    {
        "cf_resource_id",
        "error_description",
        "idp_id",
        "idp_resource_id",
        "logged_at",
        "request_body",
        "request_method",
        "resource_group_name",
        "resource_type",
        "resource_user_email",
        "status",
        PARSED_KEY,
        INFO_KEY,
    }
)


def access_country(data: Mapping[str, Any], leftovers: dict[str, Any]) -> str | None:
    """The country of an access request: ``country_code``, else ``country``, as an ISO code.

    A value that is not used (not a code, or another country than the one chosen) is kept in
    ``leftovers``, the vendor namespace.
    """
    chosen = None
    for key in ("country_code", "country"):
        value = data.get(key)
        if value is None:
            # Most records have neither field: nothing to choose or keep.
            continue
        code = country_code(value)
        if chosen is None and code is not None:
            chosen = code
        elif value is not None and (code is None or code != chosen):
            leftovers[key] = value
    return chosen
