"""SCIM request bodies: parsed, redacted and bounded before any sink sees them.

The API returns ``request_body`` as a JSON-encoded *string* holding whatever the identity provider
sent to Cloudflare's SCIM endpoint, passwords included. :func:`prepare_scim_record` is applied to
every SCIM record once, where the source makes the record (:mod:`forwarder.source.paging`), so that
every format carries the same redacted body and no format has to prepare anything.

A body is redacted by its shape, the first of these that fits (:mod:`forwarder.source.scim_shapes`),
every one by the same redaction key list:

1. ``json``: the body parses as JSON. Sensitive keys at any depth, and the ``value`` of a PATCH
   operation whose ``path`` names a sensitive attribute, are replaced whole. A body that does not
   parse but starts with ``{`` or ``[`` is broken JSON, redacted from what looks like members.
2. ``form``: one line of ``key=value&…`` pairs; values of sensitive (percent-decoded) keys.
3. ``headers``: ``Name: value`` lines (after an optional HTTP request or status line); values of
   sensitive header names, the scheme of a credential kept (``Bearer [REDACTED]``). A body after
   the blank line is redacted by its own shape.
4. ``markup``: starts with a tag; contents of sensitive elements, values of sensitive attributes
   (:mod:`forwarder.source.scim_markup`).
5. ``text``: anything else. With ``unknown_body="redact"`` (the default) it is searched like the
   others below; with ``"drop"`` it is replaced whole by :data:`DROPPED_MARKER`.

Whatever the shape, the text (every JSON string value and key, for JSON) is then searched for
secrets of well-known shapes (:mod:`forwarder.source.scim_secrets`): bearer and basic credentials, JWTs,
GitHub, Slack, Google and AWS keys, Slack webhooks, PEM private keys, passwords in URLs, and
``key=value``/``key: value``/``key="value"`` pairs with a sensitive key. Every search is linear in
the body's length.

What a prepared record carries (every other field is copied unchanged):

``request_body``
    The body as a string, redacted. When nothing had to be redacted it is the original string,
    byte for byte; when something was, a JSON body is the redacted JSON re-encoded compactly and
    any other body is the original with the secrets replaced by ``[REDACTED]`` in place. Redacted
    first, then cut: a body over ``max_body_bytes`` (UTF-8) is cut and ends with
    :data:`TRUNCATION_MARKER`.
``request_body_parsed``
    The redacted body as JSON (object, array or scalar), present only when the body parsed and was
    not truncated: a truncated document is no longer the document the IdP sent.
``request_body_info``
    ``{"original_bytes": int, "parsed": bool, "redactions": int, "shape": str, "truncated":
    bool}``, whenever ``request_body`` was a string; ``shape`` is one of ``json``, ``form``,
    ``headers``, ``markup`` and ``text`` (above) and ``redactions`` counts the values replaced
    (1 for a dropped body). Its presence marks the record as prepared, so that preparing twice is
    harmless (a record replayed from the dead letters was prepared when it was first read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import translate
from functools import lru_cache
from typing import Any

from forwarder.records import INFO_KEY as INFO_KEY
from forwarder.records import PARSED_KEY as PARSED_KEY
from forwarder.source.scim_secrets import REDACTED as REDACTED
from forwarder.source.scim_secrets import Matcher
from forwarder.source.scim_shapes import DROPPED_MARKER as DROPPED_MARKER
from forwarder.source.scim_shapes import JsonRedactor, redact_body
from forwarder.source.scim_shapes import Shape as Shape
from forwarder.source.scim_shapes import UnknownBody as UnknownBody

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


def _truncate(text: str, encoded_size: int, max_body_bytes: int, original_bytes: int) -> str:
    marker = TRUNCATION_MARKER.format(original_bytes=original_bytes)
    keep = max(0, max_body_bytes - len(marker.encode()))
    if encoded_size == len(text):  # ASCII: characters are bytes
        return text[:keep] + marker
    # "ignore" drops a character cut in half at the boundary rather than emitting invalid UTF-8.
    return text.encode()[:keep].decode("utf-8", "ignore") + marker


def prepare_scim_record(
    data: Mapping[str, Any],
    *,
    redact_keys: frozenset[str] = DEFAULT_REDACT_KEYS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    unknown_body: UnknownBody = "redact",
) -> dict[str, Any]:
    """A copy of a SCIM update record whose ``request_body`` is safe to ship (see module doc).

    ``redact_keys`` are case-insensitive glob patterns matched against every key at any depth of
    the body (JSON members, form keys, header names, element and attribute names, ``key=value``
    pairs in text) and against the attribute names of PATCH ``path`` expressions.
    ``max_body_bytes`` of 0 or less disables truncation. ``unknown_body`` says what happens to a
    body of no known shape: ``redact`` its secrets found by shape, or ``drop`` it whole.
    Total: any record, any body, never raises.
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
                prepared["request_body"] = JsonRedactor(is_sensitive).redact(body)
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
    # Redacted before it is cut: a secret cut in half would no longer match what finds it.
    redacted = redact_body(body, encoded, is_sensitive, unknown_body=unknown_body)
    text = redacted.text

    size = original_bytes if text is body else len(text.encode())
    truncated = 0 < max_body_bytes < size
    if truncated:
        text = _truncate(text, size, max_body_bytes, original_bytes)
    prepared["request_body"] = text
    if redacted.parsed and not truncated:
        prepared[PARSED_KEY] = redacted.value
    prepared[INFO_KEY] = {
        "original_bytes": original_bytes,
        "parsed": redacted.parsed,
        "redactions": redacted.redactions,
        "shape": redacted.shape,
        "truncated": truncated,
    }
    return prepared
