"""Settings of the syslog sink (``FORWARDER_SYSLOG__*``) and the syslog code tables they name."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from forwarder.sinks.base import SinkSettings


class Facility(IntEnum):
    """RFC 5424 section 6.2.1 facility codes."""

    KERN = 0
    USER = 1
    MAIL = 2
    DAEMON = 3
    AUTH = 4
    SYSLOG = 5
    LPR = 6
    NEWS = 7
    UUCP = 8
    CRON = 9
    AUTHPRIV = 10
    FTP = 11
    NTP = 12
    AUDIT = 13
    ALERT = 14
    CLOCK = 15
    LOCAL0 = 16
    LOCAL1 = 17
    LOCAL2 = 18
    LOCAL3 = 19
    LOCAL4 = 20
    LOCAL5 = 21
    LOCAL6 = 22
    LOCAL7 = 23


class Severity(IntEnum):
    """RFC 5424 section 6.2.1 severity codes."""

    EMERG = 0
    ALERT = 1
    CRIT = 2
    ERR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


# CEF severity is 0-10 and LEEF `sev` 1-10; both follow the syslog severity a person configured so
# that one setting ranks an event the same way in every format.
SEVERITY_TO_TEN: dict[Severity, int] = {
    Severity.EMERG: 10,
    Severity.ALERT: 9,
    Severity.CRIT: 8,
    Severity.ERR: 7,
    Severity.WARNING: 6,
    Severity.NOTICE: 4,
    Severity.INFO: 3,
    Severity.DEBUG: 1,
}

# Other spellings people write in syslog configurations (rsyslog and syslog-ng accept these).
SEVERITY_ALIASES = {
    "emergency": "emerg",
    "panic": "emerg",
    "critical": "crit",
    "error": "err",
    "warn": "warning",
}


def code_from_name(value: Any, table: type[IntEnum], aliases: dict[str, str]) -> Any:
    """Accept ``local0`` / ``LOCAL0`` / ``16`` alike, as a syslog configuration would."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return table(int(text))
        text = aliases.get(text, text)
        try:
            return table[text.upper()]
        except KeyError:
            names = ", ".join(member.name.lower() for member in table)
            raise ValueError(f"{value!r} is not one of {names} (or their numbers)") from None
    return value


Transport = Literal["udp", "tcp", "tls"]
Framing = Literal["octet-counting", "lf"]
Payload = Literal["json", "cef", "leef"]
Rfc = Literal["5424", "3164"]
Bom = Literal["auto", "always", "never"]

DEFAULT_PORTS: dict[str, int] = {"udp": 514, "tcp": 514, "tls": 6514}

# Printable US-ASCII without space: the alphabet of every RFC 5424 header field.
PRINTABLE_ASCII = frozenset(chr(code) for code in range(33, 127))


def is_header_text(value: str) -> bool:
    return bool(value) and all(character in PRINTABLE_ASCII for character in value)


# Characters that cannot separate LEEF attributes: they are part of keys, escapes or framing.
FORBIDDEN_DELIMITERS = frozenset("=\\\n\r|_ ")


def parse_delimiter(setting: str) -> str:
    """The delimiter a setting names: one character, or ``x09`` / ``0x09`` (LEEF 2.0's hex form)."""
    character = setting
    lowered = setting.lower()
    if len(setting) > 1 and lowered.startswith(("0x", "x")):
        digits = lowered.removeprefix("0").removeprefix("x")
        if not 1 <= len(digits) <= 4:
            raise ValueError(f"{setting!r}: a hex delimiter has 1 to 4 digits, as in x09 or 0x5E")
        try:
            character = chr(int(digits, 16))
        except ValueError:
            raise ValueError(f"{setting!r} is not a hex character code such as x09") from None
    if len(character) != 1:
        raise ValueError(f"{setting!r}: the LEEF delimiter is one character, or its code as x09")
    if character in FORBIDDEN_DELIMITERS or character.isalnum():
        raise ValueError(f"{setting!r} cannot be the LEEF delimiter: it appears in keys, values or escapes")
    return character


class SyslogSettings(SinkSettings):
    model_config = SettingsConfigDict(env_prefix="FORWARDER_SYSLOG__", extra="ignore", frozen=True)

    host: str = Field(min_length=1, description="Host name or IP address of the syslog receiver.")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the receiver; default 514 for `udp` and `tcp`, 6514 for `tls` (RFC 5425).",
    )
    transport: Transport = Field(
        default="tcp",
        description="`udp` (RFC 5426), `tcp` (RFC 6587) or `tls` (RFC 5425). UDP loses messages silently "
        "when the receiver is down or busy; prefer `tcp` or `tls`.",
    )
    framing: Framing = Field(
        default="octet-counting",
        description="How messages are delimited on `tcp` and `tls`: `octet-counting` (RFC 6587 3.4.1, the "
        "only framing RFC 5425 allows) or `lf` (one message per line; a line feed inside a message is "
        "replaced with a space). Ignored for `udp`, where one datagram is one message.",
    )
    rfc: Rfc = Field(
        default="5424",
        description="Message format: `5424` (structured data, full timestamps) or `3164` (the BSD format "
        "older relays expect: no year, no structured data, no MSGID).",
    )
    payload: Payload = Field(
        default="json",
        description="What the message body carries: `json` (the document in this sink's `format`), "
        "`cef` (ArcSight Common Event Format) or `leef` (QRadar LEEF 2.0).",
    )
    facility: Facility = Field(
        default=Facility.LOCAL0,
        description="Syslog facility, as a name (`local0`, `authpriv`, ...) or a number 0-23.",
    )
    severity_success: Severity = Field(
        default=Severity.INFO,
        description="Syslog severity of an allowed login or a successful SCIM change (and of events "
        "whose outcome is unknown), as a name (`info`, `notice`, ...) or a number 0-7.",
    )
    severity_failure: Severity = Field(
        default=Severity.WARNING,
        description="Syslog severity of a denied login or a failed SCIM change, as a name or a number 0-7.",
    )
    hostname: str = Field(
        default="",
        max_length=255,
        description="HOSTNAME field of every message; empty means this machine's host name. Printable "
        "ASCII without spaces, at most 255 characters.",
    )
    app_name: str = Field(
        default="cloudflare-access",
        min_length=1,
        max_length=48,
        description="APP-NAME (RFC 5424, at most 48 characters) or TAG (RFC 3164, cut to 32) of every "
        "message. Printable ASCII without spaces.",
    )
    structured_data: bool = Field(
        default=True,
        description="RFC 5424 only: add a STRUCTURED-DATA element with the event id, account, log type "
        "and the key fields of the record.",
    )
    sd_id: str = Field(
        default="cloudflare@32473",
        max_length=32,
        description="SD-ID of that element: `name@<private enterprise number>`. The default uses 32473, "
        "the number RFC 5612 reserves for examples; set your organisation's own if it has one.",
    )
    bom: Bom = Field(
        default="auto",
        description="RFC 5424 only: when to start MSG with the UTF-8 byte order mark. `auto`: when the "
        "message has non-ASCII characters (pure ASCII is valid as MSG-ANY, and some CEF/LEEF parsers "
        "choke on a BOM); `always` (the letter of RFC 5424 6.4); `never`.",
    )
    udp_max_message_size: int = Field(
        default=2048,
        ge=480,
        le=65507,
        description="Largest UDP datagram in bytes (RFC 5426 says receivers should take 2048). A longer "
        "message is cut, ends with `[truncated]`, and is counted and logged.",
    )
    leef_delimiter: str = Field(
        default="^",
        description="LEEF 2.0 attribute delimiter: one character, or its code as `x09` / `0x09`. A tab "
        "is LEEF 1.0's delimiter, but relays often rewrite control characters (rsyslog: tab to `#011`).",
    )
    timeout: float = Field(
        default=10.0, gt=0, description="Seconds to connect (and handshake) or to write one batch."
    )
    tls_ca_file: str = Field(
        default="",
        description="PEM file of the CA(s) that signed the receiver's certificate; replaces the "
        "operating system's trust store, which is used when empty.",
    )
    tls_cert_file: str = Field(
        default="",
        description="PEM client certificate (chain), for receivers that require one (mutual TLS).",
    )
    tls_key_file: str = Field(
        default="", description="PEM private key of the client certificate; empty if it is in the cert file."
    )
    tls_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted client key."
    )
    tls_server_name: str = Field(
        default="",
        description="Name the receiver's certificate must carry (and the SNI sent); empty means `host`.",
    )
    tls_verify: bool = Field(
        default=True,
        description="Verify the receiver's certificate and name. Turning it off lets anyone on the path "
        "read and change the events.",
    )

    @field_validator("facility", mode="before")
    @classmethod
    def _facility_name(cls, value: Any) -> Any:
        return code_from_name(value, Facility, {"security": "auth"})

    @field_validator("severity_success", "severity_failure", mode="before")
    @classmethod
    def _severity_name(cls, value: Any) -> Any:
        return code_from_name(value, Severity, SEVERITY_ALIASES)

    @field_validator("hostname", "app_name")
    @classmethod
    def _header_text(cls, value: str) -> str:
        if value and not is_header_text(value):
            raise ValueError("use printable ASCII characters without spaces (RFC 5424 PRINTUSASCII)")
        return value

    @field_validator("sd_id")
    @classmethod
    def _sd_name(cls, value: str) -> str:
        if not is_header_text(value) or any(character in value for character in '= ]"'):
            raise ValueError('an SD-ID is 1-32 printable ASCII characters without `=`, space, `]` or `"`')
        return value

    @field_validator("leef_delimiter")
    @classmethod
    def _leef_delimiter(cls, value: str) -> str:
        parse_delimiter(value)
        return value

    @model_validator(mode="after")
    def _tls_files_together(self) -> SyslogSettings:
        if self.tls_key_file and not self.tls_cert_file:
            raise ValueError(
                "FORWARDER_SYSLOG__TLS_KEY_FILE is set without FORWARDER_SYSLOG__TLS_CERT_FILE; "
                "set the client certificate too"
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.transport]

    @property
    def server_name(self) -> str:
        return self.tls_server_name or self.host
