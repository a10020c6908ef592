"""Deterministic, messy, cheap records: a time series per stream, and each record built only when read.

A stream of a million records costs a few arrays (time, fraction digits, SCIM provider per record); the
record itself is rebuilt from ``(seed, account, log type, key)`` whenever a page needs it, so memory stays
flat however much history a benchmark asks for. ``key`` is the record's rank in time order, stable for the
life of the simulator.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from array import array
from dataclasses import dataclass, field

import orjson

from fakes.cloudflare.config import DataProfile
from fakes.cloudflare.directory import Directory
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.timestamps import format_rfc3339, truncate

_FRACTION_DIGITS = (0, 3, 5, 6, 9)
_FRACTION_WEIGHTS = (0.1, 0.25, 0.1, 0.45, 0.1)
_ACTIONS = ("login", "logout", "sso", "isolation", "identity_refresh")
_ACTION_WEIGHTS = (0.7, 0.1, 0.15, 0.03, 0.02)
_CONNECTIONS = ("saml", "oidc", "onetimepin", "github", "azureAD", "okta")
_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_METHOD_WEIGHTS = (0.25, 0.2, 0.4, 0.15)
_FAILURES = (
    "User already exists in the database.",
    "Resource not found",
    "Invalid filter",
    "Attribute 'userName' is required",
    "Too many members in the group",
)
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def stream_salt(seed: int, account_id: str, log_type: str) -> int:
    digest = hashlib.sha256(f"{seed}:{account_id}:{log_type}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def unique_hex(key: int, salt: int) -> str:
    """16 hex characters, never the same twice within a stream: an odd multiplier mod 2**64 is a
    bijection."""
    return f"{(((key + 1) * _GOLDEN_GAMMA) & _MASK64) ^ salt:016x}"


@dataclass
class Series:
    """Record times by key (sorted), their fraction digits, the late ones' delays, SCIM provider indexes."""

    times: array[int] = field(default_factory=lambda: array("q"))
    digits: bytearray = field(default_factory=bytearray)
    delays: dict[int, float] = field(default_factory=dict)
    providers: bytearray = field(default_factory=bytearray)


def generate_series(
    rng: random.Random, start_ns: int, end_ns: int, count: int, profile: DataProfile, providers: int
) -> Series:
    if count <= 0:
        return Series()
    # Sorted uniform times without sorting a million floats: cumulative exponential gaps, rescaled.
    gaps = [rng.expovariate(1.0) for _ in range(count + 1)]
    scale = (end_ns - start_ns) / sum(gaps)
    digits = rng.choices(_FRACTION_DIGITS, _FRACTION_WEIGHTS, k=count)
    times: list[int] = []
    elapsed = 0.0
    for index in range(count):
        elapsed += gaps[index]
        if times and rng.random() < profile.shared_timestamp:
            times.append(times[-1])
            digits[index] = digits[index - 1]
        else:
            times.append(truncate(start_ns + int(elapsed * scale), digits[index]))
    # Truncating to fewer digits can step back over a neighbour; a stable sort fixes that in ~O(n).
    order = sorted(range(count), key=times.__getitem__)
    series = Series(
        times=array("q", (times[i] for i in order)),
        digits=bytearray(digits[i] for i in order),
        providers=bytearray(rng.randrange(providers) for _ in range(count)) if providers else bytearray(),
    )
    late = min(count, round(count * profile.late))
    for key in rng.sample(range(count), late):
        series.delays[key] = rng.uniform(1.0, max(1.0, profile.late_max_delay))
    return series


class Messy:
    """Drops or nulls optional fields the way every field of the API is optional."""

    def __init__(self, rng: random.Random, profile: DataProfile) -> None:
        self.rng = rng
        self.profile = profile

    def apply(self, record: JsonObject, keep: tuple[str, ...]) -> JsonObject:
        rng, profile = self.rng, self.profile
        for name in list(record):
            if name in keep:
                continue
            roll = rng.random()
            if roll < profile.missing_field:
                del record[name]
            elif roll < profile.missing_field + profile.null_field:
                record[name] = None
        return record


def ip_address(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return str(
            ipaddress.IPv4Address(rng.choice((0xC6336400, 0xCB007100, 0x5DB8D800)) + rng.randrange(256))
        )
    if roll < 0.95:
        return ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(48)).compressed
    return f"::ffff:198.51.100.{rng.randrange(1, 255)}"


class AccessRequestFactory:
    """The nine fields of an Access authentication log, sometimes fewer, rarely one more."""

    def __init__(self, seed: int, account_id: str, directory: Directory, profile: DataProfile) -> None:
        self.salt = stream_salt(seed, account_id, "access_requests")
        self.directory = directory
        self.profile = profile

    def ray_id(self, key: int) -> str:
        return unique_hex(key, self.salt)

    def record(self, key: int, time_ns: int, digits: int) -> JsonObject:
        rng = random.Random(self.salt ^ key)
        profile = self.profile
        created_at = format_rfc3339(time_ns, digits)
        if rng.random() < profile.sparse_record:
            return {"created_at": created_at, "ray_id": self.ray_id(key)}
        user = rng.choice(self.directory.users)
        app = rng.choice(self.directory.applications)
        action = rng.choices(_ACTIONS, _ACTION_WEIGHTS)[0]
        record: JsonObject = {
            "user_email": user.email,
            "ip_address": ip_address(rng),
            "app_uid": app.uid,
            "app_domain": app.domain,
            "action": action,
            "connection": rng.choice(_CONNECTIONS),
            "allowed": rng.random() < 0.85 if action == "login" else True,
            "created_at": created_at,
            "ray_id": self.ray_id(key),
        }
        if rng.random() < profile.extra_field:
            record["country"] = rng.choice(("DE", "US", "BR", "JP", "ZA"))
        Messy(rng, profile).apply(record, keep=("created_at",))
        if rng.random() < profile.missing_timestamp:
            # A record with no time still has to be told apart from its neighbours.
            drop_timestamp(rng, record, "created_at")
            record["ray_id"] = self.ray_id(key)
        return record


class ScimUpdateFactory:
    """The eleven fields of an Access SCIM update log, with real SCIM request bodies as JSON strings."""

    def __init__(self, seed: int, account_id: str, directory: Directory, profile: DataProfile) -> None:
        self.salt = stream_salt(seed, account_id, "scim_updates")
        self.directory = directory
        self.profile = profile

    def provider_id(self, index: int) -> str:
        return self.directory.scim_providers[index].id

    def record(self, key: int, time_ns: int, digits: int, provider: int) -> JsonObject:
        rng = random.Random(self.salt ^ key)
        profile = self.profile
        logged_at = format_rfc3339(time_ns, digits)
        unique_id = unique_hex(key, self.salt)
        if rng.random() < profile.sparse_record:
            return {"cf_resource_id": f"sparse-{unique_id}", "logged_at": logged_at}
        is_user = rng.random() < 0.7
        method = rng.choices(_METHODS, _METHOD_WEIGHTS)[0]
        status = "FAILURE" if rng.random() < profile.scim_failure else "SUCCESS"
        if rng.random() < profile.scim_unknown_status:
            status = "ERROR"
        record: JsonObject
        if is_user:
            user = rng.choice(self.directory.users)
            body = _user_body(rng, user.email, user.given_name, user.family_name, method, profile)
            record = {
                "cf_resource_id": user.cf_resource_id,
                "idp_id": self.provider_id(provider),
                "idp_resource_id": user.idp_resource_id,
                "logged_at": logged_at,
                "request_body": body,
                "request_method": method,
                "resource_type": "USER",
                "resource_user_email": user.email,
                "status": status,
            }
        else:
            group = rng.choice(self.directory.groups)
            members = rng.sample(self.directory.users, 2)
            record = {
                "cf_resource_id": group.cf_resource_id,
                "idp_id": self.provider_id(provider),
                "idp_resource_id": group.idp_resource_id,
                "logged_at": logged_at,
                "request_body": _group_body(rng, group.name, [m.idp_resource_id for m in members], method),
                "request_method": method,
                "resource_group_name": group.name,
                "resource_type": "GROUP",
                "status": status,
            }
        if rng.random() < profile.invalid_json_body:
            record["request_body"] = "{}}"
            record["status"] = "FAILURE"
            record["error_description"] = "Invalid JSON body"
        elif record["status"] != "SUCCESS":
            record["error_description"] = rng.choice(_FAILURES)
        if rng.random() < profile.extra_field:
            record["request_id"] = f"{rng.getrandbits(64):016x}"
        Messy(rng, profile).apply(record, keep=("logged_at",))
        if rng.random() < profile.missing_timestamp:
            drop_timestamp(rng, record, "logged_at")
            record["cf_resource_id"] = f"untimed-{unique_id}"
        return record


def drop_timestamp(rng: random.Random, record: JsonObject, name: str) -> None:
    if rng.random() < 0.5:
        del record[name]
    else:
        record[name] = None


def _user_body(
    rng: random.Random, email: str, given: str, family: str, method: str, profile: DataProfile
) -> str:
    if method == "DELETE":
        return ""
    if method == "PATCH":
        operation = rng.choice(
            (
                {"op": "replace", "path": "active", "value": rng.random() < 0.5},
                {"op": "replace", "value": {"name.givenName": given}},
                {"op": "add", "path": 'emails[type eq "work"].value', "value": email},
            )
        )
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]}
        return orjson.dumps(patch).decode()
    user: JsonObject = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": rng.random() < 0.9,
    }
    if rng.random() < profile.password_in_body:
        # IdPs do send initial passwords; the forwarder must not ship them to a SIEM verbatim.
        user["password"] = f"Init-{rng.getrandbits(40):010x}!"
    return orjson.dumps(user).decode()


def _group_body(rng: random.Random, name: str, member_ids: list[str], method: str) -> str:
    if method == "DELETE":
        return ""
    if method == "PATCH":
        op = rng.choice(("add", "remove"))
        members = [{"value": member} for member in member_ids]
        operation = {"op": op, "path": "members", "value": members}
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]}
        return orjson.dumps(patch).decode()
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": [{"value": member} for member in member_ids],
    }
    return orjson.dumps(group).decode()
