"""OCSF events as JSON bytes: ``encode_ocsf(record) == orjson.dumps(to_ocsf(record))``, always.

The OCSF twin of :mod:`forwarder.formats.ecs_json`, for the same reason and under the same rules:
a well-formed access request (`forwarder.formats.well_formed`) whose address parses, and whose
country (if any) the class takes, is written directly from cached pieces; every other record goes
through :func:`~forwarder.formats.ocsf.to_ocsf`, which decides every rule. Property tests hold
the two to byte equality.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from forwarder.formats.known_fields import PRODUCT
from forwarder.formats.ocsf import (
    _ISO_COUNTRY,
    ACCESS_FEATURE,
    AUTHENTICATION,
    OCSF_VERSION,
    auth_protocol,
    authentication_activity,
    classification,
    metadata_after_uid,
    to_ocsf,
)
from forwarder.formats.values import (
    epoch_milliseconds,
    ip_address,
    is_ocsf_email,
    observed_epoch_milliseconds,
)
from forwarder.formats.well_formed import well_formed_access, with_fallback
from forwarder.records import LogType, Record

_dumps = orjson.dumps
_STATUSES = {
    True: b',"status_id":1,"status":"Success"',
    False: b',"status_id":2,"status":"Failure"',
    None: b',"status_id":0,"status":"Unknown"',
}
_ACCESS_SERVICE = b',"service":' + _dumps({"name": PRODUCT})
_IP_OBSERVABLE = b'{"name":"src_endpoint.ip","type_id":2,"type":"IP Address","value":'
_EMAIL_OBSERVABLE = b'{"name":"user.email_addr","type_id":5,"type":"Email Address","value":'


@lru_cache(maxsize=256)
def _head(label: str | None) -> bytes:
    """From the opening brace to ``"time":``: it depends on the action only."""
    head = classification(AUTHENTICATION, *authentication_activity(label))
    return _dumps(head)[:-1] + b',"time":'


@lru_cache(maxsize=64)
def _metadata_tail(account_id: str, logged_time: int) -> bytes:
    """metadata after its uid, closed: one per account and page (one observation time)."""
    tail = metadata_after_uid(LogType.ACCESS_REQUESTS, account_id, logged_time, ACCESS_FEATURE)
    return b"," + _dumps(tail)[1:]


@lru_cache(maxsize=256)
def _auth_protocol(label: str) -> tuple[bytes, bytes]:
    """(the auth_protocol members, the unmapped object or b""): both depend on the label only."""
    protocol_id, name, keep = auth_protocol(label)
    members = b',"auth_protocol_id":%d,"auth_protocol":%b' % (protocol_id, _dumps(name))
    return members, (b',"unmapped":' + _dumps({"connection": label}) if keep else b"")


def _authentication(record: Record) -> bytes | None:
    """The bytes of a well-formed access request, or None: then the reference mapping decides."""
    fields = well_formed_access(record)
    if fields is None:
        return None
    action, allowed, email, user_id, raw_ip, country, app_domain, app_uid, connection, ray_id = fields
    # A well-formed record has a time of its own: this is it.
    timestamp = record.time
    ip = None
    if raw_ip is not None:
        ip = ip_address(raw_ip)
        if ip is None:
            return None
    # A country is written only beside an address; otherwise the reference keeps it in unmapped.
    if country is not None and (ip is None or _ISO_COUNTRY.fullmatch(country) is None):
        return None
    # Key order is the reference's; the event id is ASCII hex.
    parts = [
        _head(action),
        b"%d" % epoch_milliseconds(timestamp),
        b',"metadata":{"version":"' + OCSF_VERSION.encode() + b'","uid":"',
        record.event_id.encode(),
        b'"',
        _metadata_tail(record.account_id, observed_epoch_milliseconds(record.observed)),
        _STATUSES[allowed],
    ]
    # user: name and (when OCSF's pattern takes it) email_addr from the email, uid from user_id;
    # OCSF needs one of name or uid, and an empty uid says "not known".
    email_addr = None
    if email is not None:
        quoted_email = _dumps(email)
        parts += (b',"user":{"name":', quoted_email)
        if is_ocsf_email(email):
            email_addr = quoted_email
            parts += (b',"email_addr":', quoted_email)
        if user_id is not None:
            parts += (b',"uid":', _dumps(user_id))
        parts.append(b"}")
    elif user_id is not None:
        parts += (b',"user":{"uid":', _dumps(user_id), b"}")
    else:
        parts.append(b',"user":{"uid":""}')
    if app_domain is not None:
        parts += (b',"service":{"name":', _dumps(app_domain))
        if app_uid is not None:
            parts += (b',"uid":', _dumps(app_uid))
        parts.append(b"}")
    elif app_uid is not None:
        parts += (b',"service":{"uid":', _dumps(app_uid), b"}")
    else:
        parts.append(_ACCESS_SERVICE)
    quoted_ip = None
    if ip is not None:
        quoted_ip = _dumps(ip)
        parts += (b',"src_endpoint":{"ip":', quoted_ip)
        if country is not None:
            parts += (b',"location":{"country":', _dumps(country.upper()), b"}")
        parts.append(b"}")
    unmapped = b""
    if connection is not None:
        protocol, unmapped = _auth_protocol(connection)
        parts.append(protocol)
    if ray_id is not None:
        parts += (b',"http_request":{"uid":', _dumps(ray_id), b"}")
    if quoted_ip is not None or email_addr is not None:
        observables: list[bytes] = []
        if quoted_ip is not None:
            observables.append(_IP_OBSERVABLE + quoted_ip + b"}")
        if email_addr is not None:
            observables.append(_EMAIL_OBSERVABLE + email_addr + b"}")
        parts += (b',"observables":[', b",".join(observables), b"]")
    parts += (unmapped, b"}")
    return b"".join(parts)


# The OCSF event of a record, encoded: the same bytes as ``orjson.dumps(to_ocsf(record))``.
encode_ocsf = with_fallback(_authentication, to_ocsf)
