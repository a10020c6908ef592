"""OCSF events as JSON bytes: ``encode_ocsf(record) == orjson.dumps(to_ocsf(record))``, always.

Mapping and encoding are the largest cost per event (benchmarks/RESULTS.md), and for OCSF this
path is worth more than 10 % of the forwarder's CPU end to end (benchmarks/MAPPING_RESULTS.md): a
well-formed access request (`forwarder.formats.well_formed`) whose address parses, and whose
country (if any) the class takes, is written directly from pieces cached per action, account,
observation time and value, without building the document's dicts first. Every other record goes
through :func:`~forwarder.formats.ocsf.to_ocsf`, which decides every rule. Property tests hold the
two to byte equality.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from forwarder.formats.known_fields import PRODUCT
from forwarder.formats.ocsf import (
    ACCESS_FEATURE,
    application_url,
    auth_protocol,
    authentication_activity,
    to_ocsf,
)
from forwarder.formats.ocsf_event import AUTHENTICATION, OCSF_VERSION, classification, metadata_after_uid
from forwarder.formats.values import (
    country_code,
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


@lru_cache(maxsize=4096)
def _url(app_domain: str) -> bytes:
    return b'"url":' + _dumps(application_url(app_domain))


def _user(email: str | None, user_id: str | None) -> tuple[bytes, bytes | None]:
    """(the user object, the quoted email_addr or None). OCSF needs a name or a uid: an empty uid
    says "not known"."""
    if email is None:
        return (
            b',"user":{"uid":' + _dumps(user_id) + b"}" if user_id is not None else b',"user":{"uid":""}'
        ), None
    quoted_email = _dumps(email)
    email_addr = quoted_email if is_ocsf_email(email) else None
    parts = [b',"user":{"name":', quoted_email]
    if email_addr is not None:
        parts += (b',"email_addr":', email_addr)
    if user_id is not None:
        parts += (b',"uid":', _dumps(user_id))
    parts.append(b"}")
    return b"".join(parts), email_addr


def _service(app_domain: str | None, app_uid: str | None) -> bytes:
    if app_domain is None and app_uid is None:
        return _ACCESS_SERVICE
    members = []
    if app_domain is not None:
        members.append(b'"name":' + _dumps(app_domain))
    if app_uid is not None:
        members.append(b'"uid":' + _dumps(app_uid))
    return b',"service":{' + b",".join(members) + b"}"


def _http_request(ray_id: str | None, app_domain: str | None) -> bytes:
    members = []
    if ray_id is not None:
        members.append(b'"uid":' + _dumps(ray_id))
    if app_domain is not None:
        members.append(_url(app_domain))
    return b',"http_request":{' + b",".join(members) + b"}" if members else b""


def _observables(quoted_ip: bytes | None, email_addr: bytes | None) -> bytes:
    observables: list[bytes] = []
    if quoted_ip is not None:
        observables.append(_IP_OBSERVABLE + quoted_ip + b"}")
    if email_addr is not None:
        observables.append(_EMAIL_OBSERVABLE + email_addr + b"}")
    return b',"observables":[' + b",".join(observables) + b"]" if observables else b""


def _authentication(record: Record) -> bytes | None:
    """The bytes of a well-formed access request, or None: then the reference mapping decides."""
    fields = well_formed_access(record)
    if fields is None:
        return None
    action, allowed, email, user_id, raw_ip, country, app_domain, app_uid, connection, ray_id = fields
    ip = ip_address(raw_ip) if raw_ip is not None else None
    code = country_code(country) if country is not None else None
    # An address that does not parse, and a country not beside an address or not a code, are
    # kept in unmapped: the reference decides how.
    if (raw_ip is not None and ip is None) or (country is not None and (ip is None or code is None)):
        return None
    user, email_addr = _user(email, user_id)
    # Key order is the reference's; the event id is ASCII hex. A well-formed record has a time.
    parts = [
        _head(action),
        b"%d" % epoch_milliseconds(record.time),
        b',"metadata":{"version":"' + OCSF_VERSION.encode() + b'","uid":"',
        record.event_id.encode(),
        b'"',
        _metadata_tail(record.account_id, observed_epoch_milliseconds(record.observed)),
        _STATUSES[allowed],
        user,
        _service(app_domain, app_uid),
    ]
    quoted_ip = None
    if ip is not None:
        quoted_ip = _dumps(ip)
        location = b',"location":{"country":' + _dumps(code) + b"}" if code is not None else b""
        parts += (b',"src_endpoint":{"ip":', quoted_ip, location, b"}")
    protocol, unmapped = _auth_protocol(connection) if connection is not None else (b"", b"")
    parts += (
        protocol,
        _http_request(ray_id, app_domain),
        _observables(quoted_ip, email_addr),
        unmapped,
        b"}",
    )
    return b"".join(parts)


# The OCSF event of a record, encoded: the same bytes as ``orjson.dumps(to_ocsf(record))``.
encode_ocsf = with_fallback(_authentication, to_ocsf)
