"""What a simulator is made of: accounts, credentials, the rate-limit policy and the shape of its data."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

AUDIT_LOGS_READ = "Access: Audit Logs Read"
SCIM_LOGS_READ = "Access: SCIM Logs Read"
IDENTITY_PROVIDERS_READ = "Access: Organizations, Identity Providers, and Groups Read"
IDENTITY_PROVIDERS_WRITE = "Access: Organizations, Identity Providers, and Groups Write"
# Account audit logs (version 2) take either; Write includes Read, as the spec's token groups say.
ACCOUNT_SETTINGS_READ = "Account Settings Read"
ACCOUNT_SETTINGS_WRITE = "Account Settings Write"
ALL_PERMISSIONS: frozenset[str] = frozenset(
    {AUDIT_LOGS_READ, SCIM_LOGS_READ, IDENTITY_PROVIDERS_READ, ACCOUNT_SETTINGS_READ}
)

ACCESS_REQUESTS = "access_requests"
SCIM_UPDATES = "scim_updates"
AUDIT_LOGS = "audit_logs"
LOG_TYPES: tuple[str, ...] = (ACCESS_REQUESTS, SCIM_UPDATES, AUDIT_LOGS)

# Not a secret: the one token a simulator accepts unless told otherwise.
DEFAULT_TOKEN = "simulator-token-0000000000000000000000000"  # noqa: S105

# Global API keys are 37 hex characters; the real API rejects anything else in X-Auth-Key with 6003/6103,
# so a credential that could never pass that check is a configuration mistake caught at construction.
GLOBAL_API_KEY_FORMAT = re.compile(r"[0-9a-f]{37}")
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_\-]{1,200}")
ACCOUNT_ID_FORMAT = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Credential:
    """An API token (``token``) or a Global API key (``email`` + ``key``) the simulator accepts.

    ``permissions`` are Cloudflare token permission names (see the ``*_READ`` constants);
    ``accounts`` are the account ids it may read, ``None`` meaning every account. ``label`` is what
    ``Simulator.requests`` shows instead of the secret.
    """

    token: str | None = None
    email: str | None = None
    key: str | None = None
    permissions: Collection[str] = ALL_PERMISSIONS
    accounts: Collection[str] | None = None
    label: str = ""
    # What the token verify endpoints report: a user token or one owned by an account (then ``accounts``
    # names that one account), ``active``/``disabled``/``expired``, and the validity window (RFC 3339).
    owner: str = "user"
    status: str = "active"
    expires_on: str | None = None
    not_before: str | None = None

    def __post_init__(self) -> None:
        if (self.token is None) == (self.email is None or self.key is None):
            raise ValueError("a Credential is either a token, or an email with a key")
        if self.token is not None and not TOKEN_FORMAT.fullmatch(self.token):
            raise ValueError("a token is 1-200 characters of A-Z, a-z, 0-9, '_' and '-'")
        if self.key is not None and not GLOBAL_API_KEY_FORMAT.fullmatch(self.key):
            raise ValueError("a Global API key is 37 lowercase hex characters")
        object.__setattr__(self, "permissions", frozenset(self.permissions))
        if self.accounts is not None:
            object.__setattr__(self, "accounts", frozenset(self.accounts))
        if not self.label:
            secret = self.token if self.token is not None else f"{self.email}:{self.key}"
            kind = "token" if self.token is not None else "key"
            digest = hashlib.sha256(secret.encode()).hexdigest()[:8]
            object.__setattr__(self, "label", f"{kind}:{digest}")

    def may_read(self, account_id: str) -> bool:
        return self.accounts is None or account_id in self.accounts

    @property
    def usable(self) -> bool:
        """A disabled or expired token is refused like one without the permission (403, 10000)."""
        return self.status == "active"


@dataclass(frozen=True)
class RateLimit:
    """Per-credential budget: ``requests`` per ``period`` seconds, then every call is refused for ``block``.

    ``time_scale`` compresses all three durations: with ``time_scale=100`` a 300 s period lasts 3 real
    seconds. Headers (``Retry-After``, ``X-RateLimit-Reset``, ``Ratelimit``) are in real seconds, because
    that is what a client sleeps.
    """

    requests: int = 1200
    period: float = 300.0
    block: float = 300.0
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.requests < 1 or self.period <= 0 or self.block < 0 or self.time_scale <= 0:
            raise ValueError("RateLimit needs requests >= 1, period > 0, block >= 0, time_scale > 0")


@dataclass(frozen=True)
class DataProfile:
    """How messy the generated records are; every number is a fraction of records unless named otherwise."""

    missing_field: float = 0.03
    null_field: float = 0.01
    sparse_record: float = 0.005
    missing_timestamp: float = 0.002
    shared_timestamp: float = 0.05
    late: float = 0.02
    late_max_delay: float = 120.0
    extra_field: float = 0.01
    scim_failure: float = 0.1
    scim_unknown_status: float = 0.01
    invalid_json_body: float = 0.02
    password_in_body: float = 0.05


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a ``Simulator`` needs; data generated from it is a pure function of these values.

    ``start``/``end`` (timezone-aware) bound the generated records; ``end`` defaults to the moment the
    config is made and ``start`` to one hour before ``end``, so pass both for data that is the same on every
    run. Records later than the current time become visible as the clock reaches them.
    """

    accounts: Sequence[str] = ("023e105f4ecef8ad9ca31a8372d0c353",)
    seed: int = 1
    start: datetime | None = None
    end: datetime | None = None
    access_per_minute: float = 10.0
    scim_per_minute: float = 2.0
    audit_per_minute: float = 1.0
    credentials: Sequence[Credential] = (Credential(token=DEFAULT_TOKEN, label="default"),)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    profile: DataProfile = field(default_factory=DataProfile)
    scim_identity_providers: int = 2
    request_log_limit: int = 100_000
    # Simulated seconds between a request leaving the client and its answer arriving (the round trip
    # to Cloudflare's edge), half on the way in, half on the way back; scaled by the rate limit's
    # ``time_scale`` like every simulated duration.
    latency: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts", tuple(self.accounts))
        object.__setattr__(self, "credentials", tuple(self.credentials))
        for account in self.accounts:
            if not ACCOUNT_ID_FORMAT.fullmatch(account):
                raise ValueError(f"account id {account!r} is not 32 lowercase hex characters")
        end = self.end if self.end is not None else _now()
        start = self.start if self.start is not None else end.replace(microsecond=0) - timedelta(hours=1)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware datetimes")
        if end < start:
            raise ValueError("end is before start")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if min(self.access_per_minute, self.scim_per_minute, self.audit_per_minute) < 0:
            raise ValueError("record rates cannot be negative")
        if self.latency < 0:
            raise ValueError("latency cannot be negative")
        if not 1 <= self.scim_identity_providers <= 4:
            raise ValueError("scim_identity_providers is between 1 and 4")

    @property
    def window(self) -> tuple[datetime, datetime]:
        assert self.start is not None
        assert self.end is not None
        return self.start, self.end
