"""SCIM request bodies: parsed, redacted and bounded before any sink sees them.

The API returns ``request_body`` as a JSON-encoded *string* holding whatever the identity provider
sent to Cloudflare's SCIM endpoint, passwords included. :func:`prepare_scim_record` is applied to
every SCIM record by the stream code, before mapping, so that the raw, ECS and OCSF outputs all
carry the same redacted body.

What a prepared record carries (every other field is copied unchanged):

``request_body``
    The body as a string, redacted. When nothing had to be redacted it is the original string,
    byte for byte; when something was, it is the redacted JSON re-encoded compactly. A body over
    ``max_body_bytes`` (UTF-8) is cut and ends with :data:`TRUNCATION_MARKER`.
``request_body_parsed``
    The redacted body as JSON (object, array or scalar), present only when the body parsed and was
    not truncated: a truncated document is no longer the document the IdP sent.
``request_body_info``
    ``{"original_bytes": int, "parsed": bool, "redactions": int, "truncated": bool}``, whenever
    ``request_body`` was a string. Its presence marks the record as prepared, so that preparing
    twice is harmless and the mappers know whether they still have to prepare a record themselves
    (a record without a body is cheap to prepare again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fnmatch import translate
from functools import lru_cache
from typing import Any

import orjson

PARSED_KEY = "request_body_parsed"
INFO_KEY = "request_body_info"
REDACTED = "[REDACTED]"
TRUNCATION_MARKER = "…[truncated by cloudflare-siem-forwarder, original {original_bytes} bytes]"

# Case-insensitive glob patterns, compared with "_" and "-" removed, so that "*secret*" catches
# client_secret, clientSecret and X-Client-Secret alike. Substring patterns are deliberate: a
# leaked credential costs far more than an over-redacted attribute, and no SCIM core or enterprise
# attribute contains these words.
DEFAULT_REDACT_KEYS: frozenset[str] = frozenset(
    {
        "*password*",
        "*passwd*",
        "*secret*",
        "*token*",
        "*apikey*",
        "*privatekey*",
        "*credential*",
        "authorization",
        "cookie",
    }
)
# Big enough for any user and for a group PATCH of a few hundred members; a full-membership PUT of
# a large group is what this cuts. Bounded because syslog, HEC and _bulk all limit event sizes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024

_FILTER = re.compile(r"\[[^\]]*\]")
# For bodies that are not valid JSON (the API keeps what the IdP sent, even `{}}`): anything that
# looks like a member name followed by a colon.
_TEXT_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200})"\s*:\s*')
_TEXT_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
_TEXT_SCALAR = re.compile(r"[^,}\]\s]*")

Matcher = Callable[[str], bool]


def _normalize(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


@lru_cache(maxsize=16)
def _matcher(redact_keys: frozenset[str]) -> Matcher:
    """One compiled regex for the whole key set: keys are tested once per body key."""
    if not redact_keys:
        return lambda _key: False
    pattern = re.compile("|".join(translate(_normalize(key)) for key in sorted(redact_keys)))

    # SCIM bodies repeat the same few dozen member names; a bounded memo halves preparation time
    # and stays bounded whatever keys an IdP invents.
    @lru_cache(maxsize=4096)
    def is_sensitive(key: str) -> bool:
        return pattern.match(_normalize(key)) is not None

    return is_sensitive


def _path_is_sensitive(path: str, is_sensitive: Matcher) -> bool:
    """Whether a SCIM PATCH path (RFC 7644 3.5.2) names a sensitive attribute.

    ``password``, ``urn:ietf:params:scim:schemas:core:2.0:User:password`` and
    ``credentials[type eq "x"].secret`` all do; the attribute names are what counts, not the
    URN prefix (which contains dots) or the filter (which contains values).
    """
    attribute = _FILTER.sub("", path)
    if attribute.lower().startswith("urn:"):
        attribute = attribute.rsplit(":", 1)[-1]
    return any(is_sensitive(part) for part in attribute.split(".") if part)


class _Redactor:
    __slots__ = ("count", "is_sensitive")

    def __init__(self, is_sensitive: Matcher) -> None:
        self.is_sensitive = is_sensitive
        self.count = 0

    def redact(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._redact_object(value)
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value

    def _redact_object(self, value: dict[Any, Any]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and self.is_sensitive(key):
                result[key] = REDACTED
                self.count += 1
            else:
                result[key] = self.redact(item)
        # A PATCH operation names its target in `path` and carries the secret in `value`.
        path = value.get("path")
        if (
            isinstance(path, str)
            and "value" in result
            and result["value"] != REDACTED
            and _path_is_sensitive(path, self.is_sensitive)
        ):
            result["value"] = REDACTED
            self.count += 1
        return result


def _value_end(text: str, start: int) -> int:
    """Where the JSON value starting at `start` ends, tolerating a body cut short."""
    if start >= len(text):
        return start
    if text[start] == '"':
        match = _TEXT_STRING.match(text, start)
        return match.end() if match else len(text)
    if text[start] not in "{[":
        match = _TEXT_SCALAR.match(text, start)
        return match.end() if match else start
    depth, position = 0, start
    while position < len(text):
        character = text[position]
        if character == '"':
            string = _TEXT_STRING.match(text, position)
            position = string.end() if string else len(text)
            continue
        if character in "{[":
            depth += 1
        elif character in "}]":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return len(text)


def _redact_text(body: str, is_sensitive: Matcher) -> tuple[str, int]:
    """Best-effort redaction of a body that is not JSON, from what looks like JSON members.

    A sensitive member's value is replaced whole (nested objects included). Operation boundaries
    cannot be trusted in a broken document, so when any `path` names a sensitive attribute every
    `value` in the body is redacted: over-redacting a broken body costs nothing.
    """
    members = list(_TEXT_KEY.finditer(body))
    redact_values = any(
        member[1] == "path"
        and body.startswith('"', member.end())
        and _path_is_sensitive(body[member.end() + 1 : _value_end(body, member.end()) - 1], is_sensitive)
        for member in members
    )
    pieces: list[str] = []
    position = count = 0
    for member in members:
        if member.start() < position:
            continue  # inside a value already redacted
        if is_sensitive(member[1]) or (redact_values and member[1] == "value"):
            pieces += (body[position : member.end()], f'"{REDACTED}"')
            position = _value_end(body, member.end())
            count += 1
    pieces.append(body[position:])
    return "".join(pieces), count


def _truncate(text: str, encoded_size: int, max_body_bytes: int, original_bytes: int) -> str:
    marker = TRUNCATION_MARKER.format(original_bytes=original_bytes)
    keep = max(0, max_body_bytes - len(marker.encode()))
    if encoded_size == len(text):  # ASCII: characters are bytes
        return text[:keep] + marker
    # "ignore" drops a character cut in half at the boundary rather than emitting invalid UTF-8.
    return text.encode()[:keep].decode("utf-8", "ignore") + marker


def _redact_body(body: str, encoded: bytes, is_sensitive: Matcher) -> tuple[bool, Any, str, int]:
    """(parsed?, the redacted JSON value, the redacted text, how many values were redacted)."""
    try:
        parsed = orjson.loads(encoded)
    except orjson.JSONDecodeError:
        return (False, None, *_redact_text(body, is_sensitive))
    redactor = _Redactor(is_sensitive)
    try:
        parsed = redactor.redact(parsed)
    except RecursionError:
        # Nesting deeper than Python's stack: handled as text, like a body that does not parse.
        return (False, None, *_redact_text(body, is_sensitive))
    if redactor.count == 0:
        return True, parsed, body, 0
    return True, parsed, orjson.dumps(parsed).decode(), redactor.count


def prepare_scim_record(
    data: Mapping[str, Any],
    *,
    redact_keys: frozenset[str] = DEFAULT_REDACT_KEYS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> dict[str, Any]:
    """A copy of a SCIM update record whose ``request_body`` is safe to ship (see module doc).

    ``redact_keys`` are case-insensitive glob patterns matched against every key at any depth of
    the body and against the attribute names of PATCH ``path`` expressions. ``max_body_bytes`` of
    0 or less disables truncation. Total: any record, any body, never raises.
    """
    prepared = dict(data)
    if INFO_KEY in data:
        return prepared
    body = data.get("request_body")
    is_sensitive = _matcher(redact_keys)
    if not isinstance(body, str):
        # The API documents a string; an object or array here is redacted in place all the same.
        if isinstance(body, dict | list):
            try:
                prepared["request_body"] = _Redactor(is_sensitive).redact(body)
            except RecursionError:
                prepared["request_body"] = REDACTED
        return prepared

    try:
        encoded = body.encode()
    except UnicodeEncodeError:
        # Lone surrogates (a stdlib json decoder lets "\\ud800" through) are not UTF-8 and no sink
        # could encode them; "?" keeps the position visible.
        body = body.encode("utf-8", "replace").decode()
        encoded = body.encode()
    original_bytes = len(encoded)
    is_parsed, parsed, text, redactions = _redact_body(body, encoded, is_sensitive)

    size = original_bytes if text is body else len(text.encode())
    truncated = 0 < max_body_bytes < size
    if truncated:
        text = _truncate(text, size, max_body_bytes, original_bytes)
    prepared["request_body"] = text
    if is_parsed and not truncated:
        prepared[PARSED_KEY] = parsed
    prepared[INFO_KEY] = {
        "original_bytes": original_bytes,
        "parsed": is_parsed,
        "redactions": redactions,
        "truncated": truncated,
    }
    return prepared
