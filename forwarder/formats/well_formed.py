"""Which access requests the direct OCSF encoder (`ocsf_json`) may write itself.

One with a time, no field this forwarder does not know, and every known field absent or holding the
type the API documents, not empty. Anything else goes to the reference mappings, which decide
every rule; each encoder may refuse more (OCSF: an address that does not parse).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson

from forwarder.records import LogType, Record

# The access fields the encoder writes: a record with any other field (one the mappings learn, or
# `country`, which only exports carry) falls back to the reference instead of losing it. A test
# holds this to known_fields.ACCESS_FIELDS.
FAST_FIELDS = frozenset(
    {
        "action",
        "allowed",
        "app_domain",
        "app_uid",
        "connection",
        "country_code",
        "created_at",
        "ip_address",
        "ray_id",
        "user_email",
        "user_id",
    }
)

# (action, allowed, user_email, user_id, ip_address, country_code, app_domain, app_uid, connection,
# ray_id): a plain tuple, the cheapest thing to return and unpack once per record.
AccessFields = tuple[
    str | None,
    bool | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
]


def well_formed_access(record: Record) -> AccessFields | None:
    """The known fields of a well-formed access request (None where absent), or None."""
    data = record.data
    if record.timestamp is None or not data.keys() <= FAST_FIELDS:
        return None
    get = data.get
    fields = (
        action := get("action"),
        allowed := get("allowed"),
        email := get("user_email"),
        user_id := get("user_id"),
        raw_ip := get("ip_address"),
        country := get("country_code"),
        app_domain := get("app_domain"),
        app_uid := get("app_uid"),
        connection := get("connection"),
        ray_id := get("ray_id"),
    )
    # Strings absent or non-empty; `__class__ is str` also leaves str subclasses to the reference
    # (records come from orjson). Inline rather than a loop: this runs once per record.
    if (
        (action is None or (action.__class__ is str and action))
        and (email is None or (email.__class__ is str and email))
        and (user_id is None or (user_id.__class__ is str and user_id))
        and (raw_ip is None or (raw_ip.__class__ is str and raw_ip))
        and (app_domain is None or (app_domain.__class__ is str and app_domain))
        and (app_uid is None or (app_uid.__class__ is str and app_uid))
        and (connection is None or (connection.__class__ is str and connection))
        and (ray_id is None or (ray_id.__class__ is str and ray_id))
        and (allowed is None or allowed.__class__ is bool)
        and (country is None or (country.__class__ is str and len(country) == 2))
    ):
        return cast(AccessFields, fields)
    return None


def with_fallback(
    fast: Callable[[Record], bytes | None], reference: Callable[[Record], Any]
) -> Callable[[Record], bytes]:
    """An encoder: ``fast`` for the access requests it takes, ``orjson.dumps(reference(...))`` else."""
    dumps = orjson.dumps

    def encode(record: Record) -> bytes:
        if record.log_type is LogType.ACCESS_REQUESTS:
            encoded = fast(record)
            if encoded is not None:
                return encoded
        return dumps(reference(record))

    return encode
