"""The input fields the mappings know, and the vendor identity both formats name.

A field not listed here is kept under the vendor namespace (``cloudflare.*`` in ECS,
``unmapped`` in OCSF), never dropped.
"""

from __future__ import annotations

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
