"""ECS documents as JSON bytes: ``encode_ecs(record) == orjson.dumps(to_ecs(record))``, always.

Mapping and encoding were the largest cost per event (benchmarks/RESULTS.md, round 3). A
well-formed access request (`forwarder.formats.well_formed`: a time, only known fields, each of
its documented type) is written directly, from pieces cached per account, observation time and
action, without building the dozen dicts of the document first. Every other record, and every
SCIM update, goes through :func:`~forwarder.formats.ecs.to_ecs`, the reference mapping, which
stays the one place where the rules are decided. Property tests hold the two to byte equality
over every record shape the API allows.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from forwarder.formats.ecs import (
    ACCESS_DATASET,
    ECS_VERSION,
    access_event_type,
    cloud,
    event_origin,
    observer,
    to_ecs,
)
from forwarder.formats.outcome import access_outcome
from forwarder.formats.values import ip_address, iso_timestamp_from, observed_iso_timestamp, split_app_domain
from forwarder.formats.well_formed import well_formed_access, with_fallback
from forwarder.records import Record

_dumps = orjson.dumps
# Between "@timestamp"'s value and event.id's: the constant start of every access document.
_HEAD = (
    b'","ecs":{"version":'
    + _dumps(ECS_VERSION)
    + b'},"event":{"kind":"event","category":["authentication"],"id":"'
)
# event.outcome closes the event object.
_OUTCOMES = {
    allowed: b',"outcome":' + _dumps(access_outcome(allowed).value) + b"}" for allowed in (True, False, None)
}
_OBSERVER = b',"observer":' + _dumps(observer())


@lru_cache(maxsize=16)
def _created(observed: str) -> bytes:
    """From the end of event.id to the end of event.provider: one per page (one observation time)."""
    return b'","created":' + _dumps(observed) + b"," + _dumps(event_origin(ACCESS_DATASET))[1:-1]


@lru_cache(maxsize=64)
def _cloud(account_id: str) -> bytes:
    if not account_id:
        return b""
    return b',"cloud":' + _dumps(cloud(account_id))


@lru_cache(maxsize=256)
def _action(label: str | None) -> bytes:
    if label is None:
        return b',"type":["info"]'
    return b',"action":' + _dumps(label) + b',"type":[' + _dumps(access_event_type(label)) + b"]"


def _access_request(record: Record) -> bytes | None:
    """The bytes of a well-formed access request, or None: then the reference mapping decides."""
    fields = well_formed_access(record)
    if fields is None:
        return None
    action, allowed, email, user_id, raw_ip, country, app_domain, app_uid, connection, ray_id = fields
    # A well-formed record has a time of its own: this is it.
    timestamp = record.time
    # Key order is the reference's: @timestamp, ecs, event, observer, cloud, user, source, url,
    # http, related, cloudflare. Timestamps and event ids are ASCII without quotes or escapes.
    parts = [
        b'{"@timestamp":"',
        iso_timestamp_from(record.data.get("created_at"), timestamp).encode(),
        _HEAD,
        record.event_id.encode(),
        _created(observed_iso_timestamp(record.observed)),
        _action(action),
        _OUTCOMES[allowed],
        _OBSERVER,
        _cloud(record.account_id),
    ]
    related: list[bytes] = []
    users: list[bytes] = []
    if email is not None:
        quoted_email = _dumps(email)
        users.append(quoted_email)
        parts += (b',"user":{"email":', quoted_email, b',"name":', quoted_email)
        if user_id is not None:
            quoted_id = _dumps(user_id)
            parts += (b',"id":', quoted_id)
            if user_id != email:
                users.append(quoted_id)
        parts.append(b"}")
    elif user_id is not None:
        quoted_id = _dumps(user_id)
        users.append(quoted_id)
        parts += (b',"user":{"id":', quoted_id, b"}")
    if raw_ip is not None:
        parts += (b',"source":{"address":', _dumps(raw_ip))
        ip = ip_address(raw_ip)
        if ip is not None:
            quoted_ip = _dumps(ip)
            parts += (b',"ip":', quoted_ip)
            related += (b'"ip":[', quoted_ip, b"]")
        if country is not None:
            parts += (b',"geo":{"country_iso_code":', _dumps(country), b"}")
        parts.append(b"}")
    elif country is not None:
        parts += (b',"source":{"geo":{"country_iso_code":', _dumps(country), b"}}")
    if app_domain is not None:
        parts += (b',"url":{"original":', _dumps(app_domain))
        host, path = split_app_domain(app_domain)
        if host is not None:
            quoted_host = _dumps(host)
            parts += (b',"domain":', quoted_host)
            related += (b',"hosts":[' if related else b'"hosts":[', quoted_host, b"]")
        if path is not None:
            parts += (b',"path":', _dumps(path))
        parts.append(b"}")
    if ray_id is not None:
        parts += (b',"http":{"request":{"id":', _dumps(ray_id), b"}}")
    if users:
        related += (b',"user":[' if related else b'"user":[', b",".join(users), b"]")
    if related:
        parts.append(b',"related":{')
        parts += related
        parts.append(b"}")
    # ECS has no place for these two: kept under cloudflare.access.
    if app_uid is not None or connection is not None:
        vendor = []
        if app_uid is not None:
            vendor.append(b'"app_uid":' + _dumps(app_uid))
        if connection is not None:
            vendor.append(b'"connection":' + _dumps(connection))
        parts += (b',"cloudflare":{"access":{', b",".join(vendor), b"}}")
    parts.append(b"}")
    return b"".join(parts)


# The ECS document of a record, encoded: the same bytes as ``orjson.dumps(to_ecs(record))``.
encode_ecs = with_fallback(_access_request, to_ecs)
