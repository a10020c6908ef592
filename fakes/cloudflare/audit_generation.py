"""Account audit log records (version 2), shaped like the OpenAPI schema ``aaa_audit-logs-v2``.

Built from ``(seed, account, key)`` like the other log types (see ``record_generation.py``): who
(a user of the dashboard, an API token, or Cloudflare itself), what (an action on a resource of a
product, with its result), where from (IP address, user agent, Ray ID of the API call).
"""

from __future__ import annotations

import random

from fakes.cloudflare.config import AUDIT_LOGS, DataProfile
from fakes.cloudflare.directory import Directory
from fakes.cloudflare.envelope import JsonObject
from fakes.cloudflare.record_generation import Messy, drop_timestamp, ip_address, stream_salt, unique_hex
from fakes.cloudflare.timestamps import format_rfc3339

# (product, resource type, action type, description, HTTP method, URI suffix)
_CHANGES = (
    ("access", "policy", "update", "Update Access policy", "PUT", "access/apps/{id}/policies/{id}"),
    ("access", "application", "create", "Create Access application", "POST", "access/apps"),
    (
        "access",
        "identity_provider",
        "update",
        "Update identity provider",
        "PUT",
        "access/identity_providers/{id}",
    ),
    ("access", "service_token", "create", "Create service token", "POST", "access/service_tokens"),
    ("gateway", "rule", "delete", "Delete Gateway rule", "DELETE", "gateway/rules/{id}"),
    ("members", "member", "create", "Add Member", "POST", "members"),
    ("members", "member", "delete", "Remove Member", "DELETE", "members/{id}"),
    ("api_tokens", "token", "create", "Create API token", "POST", "tokens"),
    ("zero_trust", "device_settings", "update", "Update device settings", "PUT", "devices/settings"),
    ("access", "application", "view", "View Access applications", "GET", "access/apps"),
)
_CHANGE_WEIGHTS = (0.2, 0.1, 0.08, 0.05, 0.07, 0.08, 0.04, 0.06, 0.07, 0.25)
_ACTOR_TYPES = ("user", "account", "system", "cloudflare_admin")
_ACTOR_TYPE_WEIGHTS = (0.75, 0.15, 0.08, 0.02)
_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15",
    "Terraform/1.9.8 terraform-provider-cloudflare/5.3.0",
    "cloudflare-python/v4.3.1",
)


class AuditLogFactory:
    """Audit log records: nested objects whose fields, like every field of the API, may be missing."""

    def __init__(self, seed: int, account_id: str, directory: Directory, profile: DataProfile) -> None:
        self.salt = stream_salt(seed, account_id, AUDIT_LOGS)
        self.account_id = account_id
        self.directory = directory
        self.profile = profile

    def record(self, key: int, time_ns: int, digits: int) -> JsonObject:
        rng = random.Random(self.salt ^ key)
        profile = self.profile
        entry_id = unique_hex(key, self.salt) * 2
        time = format_rfc3339(time_ns, digits)
        if rng.random() < profile.sparse_record:
            return {"id": entry_id, "action": {"time": time}}
        product, resource_type, action_type, description, method, uri = rng.choices(
            _CHANGES, _CHANGE_WEIGHTS
        )[0]
        failed = rng.random() < profile.scim_failure
        resource_id = f"{rng.getrandbits(128):032x}"
        record: JsonObject = {
            "id": entry_id,
            "account": {"id": self.account_id, "name": "Example Account"},
            "action": {
                "description": description,
                "result": "failure" if failed else "success",
                "time": time,
                "type": action_type,
            },
            "actor": self._actor(rng),
            "raw": {
                "cf_ray_id": f"{rng.getrandbits(64):016x}",
                "method": method,
                "status_code": rng.choice((400, 403, 409)) if failed else (201 if method == "POST" else 200),
                "uri": f"/accounts/{self.account_id}/{uri.replace('{id}', resource_id)}",
                "user_agent": rng.choice(_USER_AGENTS),
            },
            "resource": {
                "id": resource_id,
                "product": product,
                "scope": {"id": self.account_id, "type": "accounts"},
                "type": resource_type,
                "request": {"name": f"{resource_type}-{rng.randrange(100)}"} if method != "GET" else {},
                "response": {},
            },
        }
        if product == "gateway" and rng.random() < 0.3:
            record["zone"] = {"id": f"{rng.getrandbits(128):032x}", "name": "example.com"}
        if rng.random() < profile.extra_field:
            record["interface"] = rng.choice(("API", "UI"))
        messy = Messy(rng, profile)
        for name in ("actor", "raw", "resource"):
            inner = record[name]
            if isinstance(inner, dict):
                messy.apply(inner, keep=())
        messy.apply(record, keep=("id", "action"))
        action = record["action"]
        if rng.random() < profile.missing_timestamp and isinstance(action, dict):
            drop_timestamp(rng, action, "time")
        return record

    def _actor(self, rng: random.Random) -> JsonObject:
        kind = rng.choices(_ACTOR_TYPES, _ACTOR_TYPE_WEIGHTS)[0]
        if kind == "system":
            return {"type": "system"}
        actor: JsonObject = {"id": f"{rng.getrandbits(128):032x}", "type": kind}
        if kind == "account":
            actor.update(
                context="api_token",
                token_id=f"{rng.getrandbits(128):032x}",
                token_name=rng.choice(("terraform", "siem-forwarder", "ci deploy")),
                ip_address=ip_address(rng),
            )
            return actor
        user = rng.choice(self.directory.users)
        actor.update(
            email=user.email, ip_address=ip_address(rng), context=rng.choice(("dash", "api_token", "api_key"))
        )
        if actor["context"] == "api_token":
            actor["token_id"] = f"{rng.getrandbits(128):032x}"
            actor["token_name"] = "Edit zone settings"  # noqa: S105 - a token's name, not a secret
        return actor
