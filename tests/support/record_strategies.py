"""Hypothesis strategies for Cloudflare records of every shape the API can return (every field
optional, odd values, unknown fields), shared by the mapping property tests and the fast-encoder tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from hypothesis import strategies as st

from forwarder.formats.known_fields import ACCESS_FIELDS, SCIM_FIELDS
from forwarder.records import LogType, Record
from forwarder.source.paging import record_from_api
from forwarder.source.scim_bodies import prepare_scim_record
from tests.unit.mapping_support import OBSERVED

MISSING = object()
SECRET = "planted-secret-4f8a"

_odd_text = st.text(st.characters(codec="utf-8"), max_size=30)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _odd_text
)
_json = st.recursive(
    _scalar,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_odd_text, children, max_size=3),
    max_leaves=8,
)


@st.composite
def _timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 30)))
    text = moment.isoformat(timespec="seconds")
    digits = draw(st.sampled_from([0, 1, 2, 3, 5, 6, 9]))
    if digits:
        text += "." + f"{moment.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    return text + draw(st.sampled_from(["Z", "+00:00", "-07:00", "+05:30", "+14:00", "-12:00", ""]))


def _ips() -> st.SearchStrategy[str]:
    return st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda address: address.exploded),
        st.ip_addresses(v=6).map(lambda address: str(address).upper()),
        st.sampled_from(
            ["::ffff:198.51.100.7", "fe80::1%eth0", "01.2.3.4", "1.2.3.4 ", "[::1]", "256.1.1.1"]
        ),
    )


def _field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Missing, null, well-formed, odd text, or any JSON value at all."""
    return st.one_of(st.just(MISSING), st.none(), valid, valid, _odd_text, _json)


_emails = st.emails() | st.sampled_from(["josé@exämple.com", "a@b", "user@example.com\n", "@"])
_uuids = st.uuids().map(str)

ACCESS_SHAPE = {
    "user_email": _field(_emails),
    "ip_address": _field(_ips()),
    "app_uid": _field(_uuids),
    "app_domain": _field(
        st.sampled_from(["test.example.com/admin", "https://a.example.com:8443/x", "[::1", "é.example"])
    ),
    "action": _field(st.sampled_from(["login", "logout", "LOGIN", "sso", "ssh_login"])),
    "connection": _field(
        st.sampled_from(["saml", "azureAD", "okta", "github", "onetimepin", "Google Workspace"])
    ),
    "allowed": _field(st.booleans()),
    "created_at": _field(_timestamps()),
    "ray_id": _field(st.text("0123456789abcdef", min_size=16, max_size=16)),
    "user_id": _field(_uuids),
    "country_code": _field(st.sampled_from(["PT", "us", "XX", "USA"])),
}

_member = st.fixed_dictionaries({"value": _uuids}, optional={"display": _odd_text})
_path = st.sampled_from(
    [
        "members",
        'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
        "active",
        "password",
        "displayName",
        "urn:ietf:params:scim:schemas:core:2.0:User:active",
        "name.givenName",
    ]
)
_operation = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "Add", "Remove", "Replace", "bogus"])},
    optional={
        "path": _path | _odd_text,
        "value": st.lists(_member, max_size=3) | st.booleans() | st.sampled_from(["True", "False"]) | _json,
    },
)
_scim_body = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.lists(
            st.sampled_from(
                [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:core:2.0:Group",
                    "urn:ietf:params:scim:api:messages:2.0:PatchOp",
                ]
            ),
            max_size=2,
        ),
        "userName": _emails,
        "displayName": _odd_text,
        "active": st.booleans() | st.sampled_from(["False", "true"]),
        "password": st.just(SECRET),
        "Operations": st.lists(_operation, max_size=4),
        "members": st.lists(_member, max_size=3),
    },
)
_request_bodies = st.one_of(
    _scim_body.map(lambda body: orjson.dumps(body).decode()),
    _json.map(lambda body: orjson.dumps(body).decode()),
    _scim_body.map(lambda body: orjson.dumps(body).decode()[:-1]),
    st.just("{}}"),
)

SCIM_SHAPE = {
    "cf_resource_id": _field(_uuids),
    "error_description": _field(st.just("Invalid JSON body")),
    "idp_id": _field(_uuids),
    "idp_resource_id": _field(st.sampled_from(["all_employees", "00u1a2b3c4"])),
    "logged_at": _field(_timestamps()),
    "request_body": _field(_request_bodies),
    "request_method": _field(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "patch"])),
    "resource_group_name": _field(st.sampled_from(["ALL_EMPLOYEES", "Admins"])),
    "resource_type": _field(st.sampled_from(["USER", "GROUP", "user", "SERVICE_ACCOUNT"])),
    "resource_user_email": _field(_emails),
    "status": _field(st.sampled_from(["SUCCESS", "FAILURE", "ERROR", "PENDING", "OK", "success", "Error"])),
}


def _member_of(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field inside an object of an audit log: null, well-formed, odd text, or any JSON value."""
    return st.one_of(st.none(), valid, valid, _odd_text, _json)


def _object(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return _field(
        st.fixed_dictionaries({}, optional={name: _member_of(valid) for name, valid in fields.items()})
    )


_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
AUDIT_SHAPE = {
    "id": _field(_hex32),
    "account": _object({"id": st.just("023e105f4ecef8ad9ca31a8372d0c353") | _hex32, "name": _odd_text}),
    "action": _object(
        {
            "description": st.sampled_from(["Add Member", "Update Access policy"]),
            "result": st.sampled_from(["success", "failure", "FAILURE", "partial"]),
            "time": _timestamps(),
            "type": st.sampled_from(["create", "delete", "update", "view", "rotate"]),
        }
    ),
    "actor": _object(
        {
            "context": st.sampled_from(["api_key", "api_token", "dash", "oauth", "origin_ca_key"]),
            "email": _emails,
            "id": _hex32,
            "ip_address": _ips(),
            "token_id": _hex32,
            "token_name": _odd_text,
            "type": st.sampled_from(["account", "cloudflare_admin", "system", "user"]),
        }
    ),
    "raw": _object(
        {
            "cf_ray_id": st.text("0123456789abcdef", min_size=16, max_size=16),
            "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
            "status_code": st.integers(-1, 1000),
            "uri": st.sampled_from(["/accounts/x/members", "/zones/z/dns_records?page=2", "é"]),
            "user_agent": _odd_text,
        }
    ),
    "resource": _object(
        {
            "id": _hex32,
            "product": st.sampled_from(["access", "members", "dns", "Stream"]),
            "request": _json,
            "response": _json,
            "scope": _json,
            "type": st.sampled_from(["policy", "member", "dns_record", "Video"]),
        }
    ),
    "zone": _object({"id": _hex32, "name": st.just("example.com")}),
}
_SHAPES = {
    LogType.ACCESS_REQUESTS: (ACCESS_SHAPE, ACCESS_FIELDS),
    LogType.SCIM_UPDATES: (SCIM_SHAPE, SCIM_FIELDS),
    LogType.AUDIT_LOGS: (AUDIT_SHAPE, frozenset(AUDIT_SHAPE)),
}


def _unknown_fields(known: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_odd_text.filter(lambda key: key not in known), _json, max_size=3)


@st.composite
def _records(draw: st.DrawFn, log_type: LogType) -> tuple[Record, dict[str, Any]]:
    shape, known = _SHAPES[log_type]
    data: dict[str, Any] = {}
    for key, strategy in shape.items():
        value = draw(strategy)
        if value is not MISSING:
            data[key] = value
    extra = draw(_unknown_fields(known))
    data.update(extra)
    if log_type is LogType.SCIM_UPDATES and draw(st.booleans()):
        data = prepare_scim_record(data, max_body_bytes=draw(st.sampled_from([0, 200, 65536])))
    account = draw(st.sampled_from(["023e105f4ecef8ad9ca31a8372d0c353", ""]))
    # As the source makes records: SCIM bodies prepared (redacted) first.
    return record_from_api(log_type, account, data, OBSERVED), extra
