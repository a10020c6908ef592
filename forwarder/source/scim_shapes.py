"""What shape a SCIM request body has, and its secrets redacted accordingly.

Shapes are tried in this order, the first that fits wins (see :mod:`forwarder.source.scim_bodies`):

``json``
    The body parses as JSON: redacted by key at any depth and by PATCH ``path``, then every string
    (values and keys) is searched for secrets by shape. A body that does not parse but starts with
    ``{`` or ``[`` is broken JSON: redacted from what looks like members, and by shape.
``form``
    One line of ``key=value`` pairs joined by ``&``: values of sensitive (percent-decoded) keys
    replaced, the others decoded and searched by shape.
``headers``
    ``Name: value`` lines, after an optional HTTP request or status line, up to a blank line:
    values of sensitive header names replaced, the scheme of a credential kept. Whatever follows
    the blank line is a body of its own, redacted by its own shape.
``markup``
    Starts with a tag: see :mod:`forwarder.source.scim_markup`.
``text``
    Anything else: searched by shape (see :mod:`forwarder.source.scim_secrets`), or dropped whole.

Whatever the shape, the whole text is searched by shape afterwards too (defence in depth).
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple
from urllib.parse import quote_plus, unquote_plus

import orjson

from forwarder.source.scim_markup import looks_like_markup, redact_markup
from forwarder.source.scim_secrets import (
    REDACTED,
    Matcher,
    is_redacted,
    path_is_sensitive,
    redact_credential,
    redact_json_members,
    redact_secret_shapes,
)

Shape = Literal["json", "form", "headers", "markup", "text"]
UnknownBody = Literal["redact", "drop"]

DROPPED_MARKER = "[REDACTED: body of unknown shape dropped, {original_bytes} bytes]"

# Anything any search below could act on; a string without one of these (most SCIM values) is
# returned at the cost of one search. Every branch starts with a literal character, spelling the
# case-insensitive words out, so that the regex engine skips ahead to the possible first
# characters in C: six times faster than `[:=<]|…|(?i:bearer|…)` on a typical SCIM value.
_HINT = re.compile(
    r":|=|<|-----BEGIN|eyJ|gh[pousr]_|github_pat_|A[KS]IA|xox[a-z]-|AIza|hooks\.slack"
    r"|B[Ee][Aa][Rr][Ee][Rr]|b[Ee][Aa][Rr][Ee][Rr]|B[Aa][Ss][Ii][Cc]|b[Aa][Ss][Ii][Cc]|S[Ss][Ww][Ss]|s[Ss][Ww][Ss]"
)


class Redacted(NamedTuple):
    shape: Shape
    parsed: bool
    # The redacted JSON value, when the body parsed.
    value: Any
    text: str
    redactions: int


def redact_anywhere(text: str, is_sensitive: Matcher) -> tuple[str, int]:
    """Secrets found by shape in any text: JSON-looking members, markup, tokens, pairs."""
    if _HINT.search(text) is None:
        return text, 0
    text, members = redact_json_members(text, is_sensitive)
    text, markup = redact_markup(text, is_sensitive)
    text, shapes = redact_secret_shapes(text, is_sensitive)
    return text, members + markup + shapes


# -- JSON -----------------------------------------------------------------------------------------


class JsonRedactor:
    """Sensitive keys (and PATCH values of sensitive paths) redacted whole; strings by shape."""

    __slots__ = ("count", "is_sensitive")

    def __init__(self, is_sensitive: Matcher) -> None:
        self.is_sensitive = is_sensitive
        self.count = 0

    def redact(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return self._redact_object(value)
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value

    def _text(self, value: str) -> str:
        text, count = redact_anywhere(value, self.is_sensitive)
        self.count += count
        return text

    def _key(self, key: Any, taken: dict[Any, Any]) -> Any:
        if not isinstance(key, str):
            return key
        name = base = self._text(key)
        # Two keys redacted to the same text must not overwrite each other's values.
        suffix = 2
        while name in taken:
            name = f"{base}#{suffix}"
            suffix += 1
        return name

    def _redact_object(self, value: dict[Any, Any]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, item in value.items():
            name = self._key(key, result)
            if isinstance(key, str) and self.is_sensitive(key):
                result[name] = REDACTED
                self.count += 1
            else:
                result[name] = self.redact(item)
        # A PATCH operation names its target in `path` and carries the secret in `value`.
        path = value.get("path")
        if (
            isinstance(path, str)
            and "value" in result
            and result["value"] != REDACTED
            and path_is_sensitive(path, self.is_sensitive)
        ):
            result["value"] = REDACTED
            self.count += 1
        return result


def _redact_json(body: str, encoded: bytes, is_sensitive: Matcher) -> Redacted | None:
    """The body redacted as JSON; None when it does not parse (or nests deeper than the stack)."""
    try:
        parsed = orjson.loads(encoded)
    except orjson.JSONDecodeError:
        return None
    redactor = JsonRedactor(is_sensitive)
    try:
        parsed = redactor.redact(parsed)
    except RecursionError:
        return None
    if redactor.count == 0:
        return Redacted("json", True, parsed, body, 0)
    return Redacted("json", True, parsed, orjson.dumps(parsed).decode(), redactor.count)


_JSON_START = re.compile(r"\s*+[{\[]")


# -- form-encoded ---------------------------------------------------------------------------------

# No whitespace, quotes, braces or colons in a key: those make prose, JSON or a header line.
_FORM_KEY = re.compile(r"[^\s=&<>\"'{}:]++")
# Kept as they are when a redacted value is encoded again, so that `[REDACTED]` stays readable.
_FORM_SAFE = "[]:/@,;"


def _strip_span(body: str) -> tuple[int, int]:
    """The body without its leading and trailing whitespace, as a span."""
    return len(body) - len(body.lstrip()), len(body.rstrip())


def _is_form(body: str) -> bool:
    start, end = _strip_span(body)
    core = body[start:end]
    if "=" not in core or "\n" in core or "\r" in core:
        return False
    return all(not pair or _FORM_KEY.fullmatch(pair.partition("=")[0]) for pair in core.split("&"))


def _redact_form_value(value: str, is_sensitive: Matcher) -> tuple[str, int]:
    decoded = unquote_plus(value)
    redacted, count = redact_anywhere(decoded, is_sensitive)
    return (quote_plus(redacted, safe=_FORM_SAFE), count) if count else (value, 0)


def _redact_form(body: str, is_sensitive: Matcher) -> tuple[str, int]:
    start, end = _strip_span(body)
    pairs = [pair.partition("=") for pair in body[start:end].split("&")]
    names = [unquote_plus(key).strip() for key, _, _ in pairs]
    # `path=password&value=…`: a PATCH operation flattened into a form.
    patch = any(
        name.lower() == "path" and path_is_sensitive(unquote_plus(value), is_sensitive)
        for name, (_, _, value) in zip(names, pairs, strict=True)
    )
    redacted: list[str] = []
    count = 0
    for name, (key, separator, value) in zip(names, pairs, strict=True):
        if value and (is_sensitive(name) or (patch and name.lower() == "value")):
            if value != REDACTED:
                value = REDACTED
                count += 1
        elif value:
            value, found = _redact_form_value(value, is_sensitive)
            count += found
        redacted.append(key + separator + value)
    if not count:
        return body, 0
    return body[:start] + "&".join(redacted) + body[end:], count


# -- header lines ---------------------------------------------------------------------------------

_START_LINE = re.compile(r"[A-Z]{3,10} [^ \r\n]++ HTTP/\d(?:\.\d)?|HTTP/\d(?:\.\d)? \d{3}(?: [^\r\n]*+)?")
_HEADER_LINE = re.compile(r"(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]++)[ \t]*+:(?!//)[ \t]*+(?P<value>[^\r\n]*+)")
_BLANK_LINE = re.compile(r"\n[ \t]*+\r?\n")
# `Proxy-Authorization`, `Set-Cookie` and `X-Authorization` carry what their base name carries.
_HEADER_PREFIXES = ("proxy-", "set-", "x-")


def _head_end(body: str, start: int) -> int:
    """Where the header block ends: after the line ending before the first blank line."""
    blank = _BLANK_LINE.search(body, start)
    return blank.start() + 1 if blank else len(body)


def _is_headers(body: str) -> bool:
    start = len(body) - len(body.lstrip())
    lines = body[start : _head_end(body, start)].splitlines()
    if lines and _START_LINE.fullmatch(lines[0]):
        lines = lines[1:]
    headers = 0
    for line in lines:
        if line[:1] in (" ", "\t") and headers:
            continue  # a folded continuation of the header above
        if _HEADER_LINE.match(line) is None:
            return False
        headers += 1
    return headers > 0


def _is_sensitive_header(name: str, is_sensitive: Matcher) -> bool:
    lowered = name.lower()
    return is_sensitive(name) or any(
        lowered.startswith(prefix) and is_sensitive(name[len(prefix) :]) for prefix in _HEADER_PREFIXES
    )


def _redact_header_lines(head: str, is_sensitive: Matcher) -> tuple[str, int]:
    pieces: list[str] = []
    count = 0
    folded = False  # inside the continuation lines of a redacted header
    for line in head.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        ending = line[len(content) :]
        if folded and content[:1] in (" ", "\t"):
            if content.strip() and content.strip() != REDACTED:
                line = content[: len(content) - len(content.lstrip())] + REDACTED + ending
                count += 1
            pieces.append(line)
            continue
        header = _HEADER_LINE.match(content)
        folded = header is not None and _is_sensitive_header(header["name"], is_sensitive)
        if header is not None and folded:
            value = header["value"].rstrip()
            if value and not is_redacted(content, header.start("value")):
                line = content[: header.start("value")] + redact_credential(value) + ending
                count += 1
        pieces.append(line)
    return ("".join(pieces), count) if count else (head, 0)


def _redact_headers(body: str, is_sensitive: Matcher) -> tuple[str, int]:
    end = _head_end(body, len(body) - len(body.lstrip()))
    head, lines = _redact_header_lines(body[:end], is_sensitive)
    head, found = redact_anywhere(head, is_sensitive)
    rest = body[end:]
    start, _ = _strip_span(rest)
    embedded = _redact_embedded(rest[start:], is_sensitive) if rest[start:] else None
    if embedded is None or not embedded.redactions:
        return (head + rest, lines + found) if lines + found else (body, 0)
    return head + rest[:start] + embedded.text, lines + found + embedded.redactions


def _redact_embedded(body: str, is_sensitive: Matcher) -> Redacted:
    """The body after a header block: redacted by its own shape, never dropped, never headers."""
    return redact_body(body, body.encode(), is_sensitive, unknown_body="redact", headers=False)


# -- all shapes -----------------------------------------------------------------------------------


def redact_body(
    body: str,
    encoded: bytes,
    is_sensitive: Matcher,
    *,
    unknown_body: UnknownBody = "redact",
    headers: bool = True,
) -> Redacted:
    """``body`` (``encoded`` as UTF-8) classified and redacted; see the module doc for the order."""
    parsed = _redact_json(body, encoded, is_sensitive)
    if parsed is not None:
        return parsed
    if _JSON_START.match(body):
        return Redacted("json", False, None, *redact_anywhere(body, is_sensitive))
    if _is_form(body):
        text, count = _redact_form(body, is_sensitive)
        text, found = redact_anywhere(text, is_sensitive)
        return Redacted("form", False, None, text, count + found)
    if headers and _is_headers(body):
        return Redacted("headers", False, None, *_redact_headers(body, is_sensitive))
    if looks_like_markup(body):
        return Redacted("markup", False, None, *redact_anywhere(body, is_sensitive))
    if unknown_body == "drop" and body.strip():
        return Redacted("text", False, None, DROPPED_MARKER.format(original_bytes=len(encoded)), 1)
    return Redacted("text", False, None, *redact_anywhere(body, is_sensitive))
