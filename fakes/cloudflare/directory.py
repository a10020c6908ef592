"""The people, groups, applications and identity providers of one simulated account.

Generated records draw from these pools, so the same user logs in many times and the same SCIM resource is
updated again and again, as in a real directory. Everything here is a pure function of (seed, account).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from fakes.cloudflare.envelope import JsonObject

# Unicode local parts, IDN domains in both Unicode and punycode form, mixed case, plus-addressing:
# every shape of address the mapping to ECS/OCSF must carry through untouched.
_LOCAL_PARTS = (
    "alice.nguyen",
    "bob+sso",
    "carol.smith",
    "CAROL.SMITH",
    "dave_ops",
    "émilie.dupont",
    "zoë.o'brien",
    "jösé",
    "用户",
    "Ωmega",
    "frank-ops",
    "grace.hopper",
)
_DOMAINS = (
    "example.com",
    "exämple.com",
    "xn--exmple-cua.com",
    "例子.广告",
    "παράδειγμα.δοκιμή",
    "Example.COM",
    "corp.acme.example",
)
_GROUP_NAMES = (
    "ALL_EMPLOYEES",
    "Engineering",
    "Finance & Legal",
    "on-call/sre",
    "Contractors (external)",
    "Ünternehmen-Admins",
    "営業部",
)
_APP_DOMAINS = (
    "test.example.com/admin",
    "wiki.acme.example",
    "grafana.acme.example/d/",
    "ssh.acme.example",
    "bücher.example.de",
    "app.xn--bcher-kva.example",
    "*.internal.acme.example",
)
_GIVEN_NAMES = ("Alice", "Bob", "Carol", "Émilie", "José", "Zoë", "Grace", "Frank", "明", "Ωmega")
_FAMILY_NAMES = ("Nguyen", "Smith", "Dupont", "O'Brien", "Hopper", "Müller", "王")

# The SCIM-capable providers come first; ``scim_identity_providers`` picks how many of them have SCIM on.
_PROVIDER_TEMPLATES = (
    ("okta", "Okta Workforce"),
    ("azureAD", "Entra ID (Azure AD)"),
    ("saml", "JumpCloud SAML"),
    ("onelogin", "OneLogin"),
)


@dataclass(frozen=True)
class User:
    email: str
    given_name: str
    family_name: str
    cf_resource_id: str
    idp_resource_id: str


@dataclass(frozen=True)
class Group:
    name: str
    cf_resource_id: str
    idp_resource_id: str


@dataclass(frozen=True)
class Application:
    uid: str
    domain: str


@dataclass(frozen=True)
class IdentityProvider:
    id: str
    name: str
    type: str
    scim_enabled: bool | None

    def to_json(self, account_id: str) -> JsonObject:
        """As the list endpoint shows it; ``scim_enabled=None`` leaves ``scim_config`` out entirely."""
        body: JsonObject = {"id": self.id, "name": self.name, "type": self.type, "config": {}}
        if self.type in ("okta", "azureAD", "onelogin"):
            body["config"] = {"client_id": f"{self.type}-client-{self.id[:8]}", "claims": ["email"]}
        if self.scim_enabled is True:
            body["scim_config"] = {
                "enabled": True,
                "identity_update_behavior": "automatic",
                "scim_base_url": (
                    f"https://{account_id[:8]}.cloudflareaccess.com/populations/{self.id}/scim/v2"
                ),
                "seat_deprovision": False,
                "user_deprovision": True,
            }
        elif self.scim_enabled is False:
            body["scim_config"] = {"enabled": False}
        return body


@dataclass(frozen=True)
class Directory:
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    applications: tuple[Application, ...]
    identity_providers: tuple[IdentityProvider, ...]

    @property
    def scim_providers(self) -> tuple[IdentityProvider, ...]:
        return tuple(provider for provider in self.identity_providers if provider.scim_enabled)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_directory(seed: int, account_id: str, scim_providers: int) -> Directory:
    rng = random.Random(f"{seed}:{account_id}:directory")
    emails = [f"{local}@{domain}" for local in _LOCAL_PARTS for domain in _DOMAINS]
    rng.shuffle(emails)
    # The address from the brief's examples is always present so tests can look for it by name.
    chosen = ["jösé@exämple.com", *(email for email in emails if email != "jösé@exämple.com")][:40]
    users = tuple(
        User(
            email=email,
            given_name=rng.choice(_GIVEN_NAMES),
            family_name=rng.choice(_FAMILY_NAMES),
            cf_resource_id=_uuid(rng),
            idp_resource_id=f"00u{rng.getrandbits(64):016x}",
        )
        for email in chosen
    )
    groups = tuple(
        Group(name=name, cf_resource_id=_uuid(rng), idp_resource_id=name.lower().replace(" ", "_"))
        for name in _GROUP_NAMES
    )
    applications = tuple(Application(uid=_uuid(rng), domain=domain) for domain in _APP_DOMAINS)
    providers = [
        IdentityProvider(id=_uuid(rng), name=name, type=kind, scim_enabled=index < scim_providers)
        for index, (kind, name) in enumerate(_PROVIDER_TEMPLATES)
    ]
    # The two that never sync users: one says so, the other has no scim_config at all.
    providers.append(
        IdentityProvider(id=_uuid(rng), name="One-time PIN", type="onetimepin", scim_enabled=False)
    )
    providers.append(IdentityProvider(id=_uuid(rng), name="GitHub", type="github", scim_enabled=None))
    return Directory(users, groups, applications, tuple(providers))
