"""Secrets recognised in text by their shape, whatever document the text belongs to.

:mod:`forwarder.source.scim_shapes` redacts a SCIM body by its structure first (JSON members, form pairs,
header lines, markup elements); what is here runs afterwards on every body and on every JSON
string value, as a second net:

* members that look like JSON (``"password": …``) in text that is not valid JSON;
* private keys in PEM (``-----BEGIN … PRIVATE KEY-----`` to its ``END`` line, or to the end of the
  text when the ``END`` line is missing);
* tokens whose shape gives them away: ``Bearer``/``SSWS``/``Basic`` credentials, JWTs, GitHub,
  Slack and Google API tokens, Slack webhook URLs, AWS access key ids, and AWS secret keys after
  their label, and the password of a URL's ``user:password@``;
* ``key=value``, ``key: value`` and ``key="value"`` pairs whose key is on the redaction list.

Every pattern is linear: each starts with a look-behind that rules out starting inside a run of
the characters its first quantifier consumes, quantifiers are possessive, and nothing searches
lazily to a terminator (a missing terminator would make every start scan to the end of the text).
Text that is already ``[REDACTED]`` is left alone and not counted again.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

REDACTED = "[REDACTED]"

Matcher = Callable[[str], bool]

_FILTER = re.compile(r"\[[^\]]*\]")

# Authorization schemes kept in front of a redacted credential (`Bearer [REDACTED]`): the scheme
# tells an analyst what kind of credential it was, and is no secret itself.
_SCHEMES = r"bearer|basic|digest|negotiate|ntlm|ssws|token|dpop|aws4-hmac-sha256|hoba|mutual"
_SCHEME = re.compile(rf"(?i:{_SCHEMES})[ \t]++(?=\S)")
_ALREADY_REDACTED = re.compile(rf"(?:(?i:{_SCHEMES})[ \t]++)?\[REDACTED\]")


def path_is_sensitive(path: str, is_sensitive: Matcher) -> bool:
    """Whether a SCIM PATCH path (RFC 7644 3.5.2) names a sensitive attribute.

    ``password``, ``urn:ietf:params:scim:schemas:core:2.0:User:password`` and
    ``credentials[type eq "x"].secret`` all do; the attribute names are what counts, not the
    URN prefix (which contains dots) or the filter (which contains values).
    """
    attribute = _FILTER.sub("", path)
    if attribute.lower().startswith("urn:"):
        attribute = attribute.rsplit(":", 1)[-1]
    return any(is_sensitive(part) for part in attribute.split(".") if part)


def redact_credential(value: str) -> str:
    """``value`` replaced by ``[REDACTED]``, keeping an authorization scheme in front of it."""
    scheme = _SCHEME.match(value)
    return value[: scheme.end()] + REDACTED if scheme else REDACTED


def is_redacted(text: str, start: int) -> bool:
    """Whether a value starting at ``start`` was redacted already (its scheme possibly kept)."""
    return _ALREADY_REDACTED.match(text, start) is not None


def _joined(original: str, pieces: list[str], count: int) -> tuple[str, int]:
    # The original object when nothing changed: callers compare by identity to skip re-encoding.
    return ("".join(pieces), count) if count else (original, 0)


# -- members that look like JSON, in text that is not JSON ----------------------------------------

# Possessive: giving characters back could never end the name at a quote, only cost time.
_TEXT_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200}+)"\s*+:\s*+')
_TEXT_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
_TEXT_SCALAR = re.compile(r"[^,}\]\s]*")
_REDACTED_STRING = f'"{REDACTED}"'


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


def redact_json_members(body: str, is_sensitive: Matcher) -> tuple[str, int]:
    """Best-effort redaction of a body that is not JSON, from what looks like JSON members.

    A sensitive member's value is replaced whole (nested objects included). Operation boundaries
    cannot be trusted in a broken document, so when any `path` names a sensitive attribute every
    `value` in the body is redacted: over-redacting a broken body costs nothing.
    """
    if '"' not in body or ":" not in body:
        return body, 0
    members = list(_TEXT_KEY.finditer(body))
    redact_values = any(
        member[1] == "path"
        and body.startswith('"', member.end())
        and path_is_sensitive(body[member.end() + 1 : _value_end(body, member.end()) - 1], is_sensitive)
        for member in members
    )
    pieces: list[str] = []
    position = count = 0
    for member in members:
        if member.start() < position:
            continue  # inside a value already redacted
        if (is_sensitive(member[1]) or (redact_values and member[1] == "value")) and not body.startswith(
            _REDACTED_STRING, member.end()
        ):
            pieces += (body[position : member.end()], _REDACTED_STRING)
            position = _value_end(body, member.end())
            count += 1
    pieces.append(body[position:])
    return _joined(body, pieces, count)


# -- private keys ---------------------------------------------------------------------------------

# `+` for a key that arrived form-encoded and was not decoded (free text quoting a URL).
_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 +]{0,40}PRIVATE[ +]KEY(?:[ +]BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z0-9 +]{0,40}PRIVATE[ +]KEY(?:[ +]BLOCK)?-----")


def redact_private_keys(text: str) -> tuple[str, int]:
    """The body of every PEM private key, markers kept; without an END line, up to the end."""
    if "-----BEGIN" not in text:
        return text, 0
    pieces: list[str] = []
    position = count = search_from = 0
    while (begin := _PEM_BEGIN.search(text, search_from)) is not None:
        end = _PEM_END.search(text, begin.end())
        stop = end.start() if end is not None else len(text)
        content = text[begin.end() : stop].strip()
        if content and content != REDACTED:
            pieces += (text[position : begin.end()], REDACTED)
            position = stop
            count += 1
        if end is None:
            break
        # Each stretch is searched once: the next BEGIN is looked for after this END.
        search_from = end.end()
    pieces.append(text[position:])
    return _joined(text, pieces, count)


# -- tokens recognised by their shape -------------------------------------------------------------

_B64URL = "A-Za-z0-9_-"
_TOKENS = re.compile(
    rf"""
      (?P<bearer>(?<![\w-])(?i:bearer|ssws)[ \t]++)[A-Za-z0-9._~+/-]{{8,}}+=*+
    | (?P<basic>(?<![\w-])(?i:basic)[ \t]++)(?P<basic_value>[A-Za-z0-9+/]{{8,}}+=*+)
    | (?<![{_B64URL}])eyJ[{_B64URL}]{{5,}}+\.[{_B64URL}]{{5,}}+(?:\.[{_B64URL}]*+){{0,3}}+
    | (?P<github>(?<![A-Za-z0-9_])(?:gh[pousr]_|github_pat_))[A-Za-z0-9_]{{20,}}+
    | (?<![A-Za-z0-9])A[KS]IA[A-Z0-9]{{16}}
    | (?P<aws_label>(?<![A-Za-z0-9])
        (?i:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)
        ["']?[ \t]*+[:=][ \t]*+["']?)[A-Za-z0-9/+=]{{16,}}+
    | (?P<slack>(?<![A-Za-z0-9_-])xox[a-z]-)[A-Za-z0-9-]{{10,}}+
    | (?P<webhook>hooks\.slack\.com(?:\\?/|%2[Ff])(?:services|workflows|triggers)(?:\\?/|%2[Ff]))
        [A-Za-z0-9/\\%_-]{{8,}}+
    | (?<![{_B64URL}])AIza[{_B64URL}]{{30,}}+
    | (?P<userinfo>://[^\s/:@]*+:)[^\s/@]++(?=@)
    """,
    re.VERBOSE,
)
# Something every token above contains, each branch starting with a literal character so that the
# regex engine skips ahead in C: most SCIM strings (URNs, times) have none and skip the alternation.
_TOKEN_HINT = re.compile(
    r"B[Ee][Aa][Rr][Ee][Rr]|b[Ee][Aa][Rr][Ee][Rr]|S[Ss][Ww][Ss]|s[Ss][Ww][Ss]"
    r"|B[Aa][Ss][Ii][Cc]|b[Aa][Ss][Ii][Cc]|S[Ee][Cc][Rr][Ee][Tt]|s[Ee][Cc][Rr][Ee][Tt]"
    r"|eyJ|gh[pousr]_|github_pat_|AKIA|ASIA|xox|hooks|AIza|://"
)
# Kept in front of the redacted part: a scheme, a token type or a URL's host say what leaked.
_TOKEN_PREFIXES = ("bearer", "basic", "github", "aws_label", "slack", "webhook", "userinfo")


def _is_basic_credential(value: str) -> bool:
    """Whether `Basic <value>` is a credential rather than prose such as "basic information"."""
    if not value.isalpha():
        return True  # digits, `+`, `/` or padding: base64, not a word
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded  # user:password


def redact_tokens(text: str) -> tuple[str, int]:
    """Every token of a well-known shape (see the module doc)."""
    if _TOKEN_HINT.search(text) is None:
        return text, 0
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match["basic"] is not None and not _is_basic_credential(match["basic_value"]):
            return match[0]
        prefix = next((match[name] for name in _TOKEN_PREFIXES if match[name] is not None), "")
        if match[0] == prefix + REDACTED:
            return match[0]
        count += 1
        return prefix + REDACTED

    redacted = _TOKENS.sub(replace, text)
    return (redacted, count) if count else (text, 0)


# -- key=value pairs ------------------------------------------------------------------------------

# A key may start with `-` (`--password=x`) and contain dots and brackets (`user[password]`); the
# look-behind excludes every key character, so that a run of them is tried once, from its start.
_KEY_CHARACTERS = r"\w.\[\]-"
_PAIR = re.compile(
    rf"(?<![{_KEY_CHARACTERS}])(?P<key>[A-Za-z_-][{_KEY_CHARACTERS}]*+)(?P<quote>\\?[\"'])?"
    r"[ \t]*+(?P<separator>[:=])[ \t]*+"
)
_QUOTED = {
    '"': re.compile(r'"(?:[^"\\]|\\[\s\S])*+"'),
    "'": re.compile(r"'(?:[^'\\]|\\[\s\S])*+'"),
}
# `Key: value` (a header, YAML, a log line) runs to the end of the line; JSON-ish `"key": value`
# to the end of the member; `key=value` to whitespace or `&`. A backslash before n, r, t or a quote
# is an escape of the text around the value (JSON-in-a-string), not part of it.
_LINE_VALUE = re.compile(r"(?:[^\r\n\"<\\]|\\[^nrt\"])*+")
_MEMBER_VALUE = re.compile(r"(?:[^\s\"'&<>,}\]\\]|\\[^nrt\"'])*+")
_WORD_VALUE = re.compile(r"(?:[^\s\"'&<>\\]|\\[^nrt\"'])*+")
_LINE_END = re.compile(r"[\r\n]")


def _line_end(text: str, start: int) -> int:
    end = _LINE_END.search(text, start)
    return end.start() if end else len(text)


def _value_span(text: str, start: int, separator: str, key_quoted: bool) -> tuple[int, int]:
    """Where the value of a pair starting at `start` begins and ends, its quotes left out."""
    if start >= len(text):
        return start, start
    if text[start] in _QUOTED:
        quoted = _QUOTED[text[start]].match(text, start)
        return (start + 1, quoted.end() - 1) if quoted else (start + 1, _line_end(text, start + 1))
    if text[start] == "\\" and text[start + 1 : start + 2] in _QUOTED:
        close = text.find(text[start : start + 2], start + 2)
        return start + 2, close if close >= 0 else _line_end(text, start + 2)
    if separator == ":" and not key_quoted:
        pattern = _LINE_VALUE
    else:
        pattern = _MEMBER_VALUE if key_quoted else _WORD_VALUE
    match = pattern.match(text, start)
    end = match.end() if match else start
    return start, start + len(text[start:end].rstrip())


def redact_pairs(text: str, is_sensitive: Matcher) -> tuple[str, int]:
    """The value of every ``key=value``, ``key: value`` or ``key="value"`` with a sensitive key."""
    if ":" not in text and "=" not in text:
        return text, 0
    pieces: list[str] = []
    position = count = search_from = 0
    # Where the last redacted value started: a pair found inside it whose value runs further
    # (`password: x password="y z"`, the line value stopping at the quote) widens that redaction.
    last_start = -1
    while (pair := _PAIR.search(text, search_from)) is not None:
        search_from = pair.end()
        if not is_sensitive(pair["key"]):
            continue
        start, end = _value_span(text, pair.end(), pair["separator"], pair["quote"] is not None)
        if start >= end or is_redacted(text, start):
            continue
        # Pairs inside this value are looked at too: the value may stop before one of them ends.
        search_from = start
        if start < position:
            if end > position:
                pieces[-1] = redact_credential(text[last_start:end])
                position = end
            continue
        pieces += (text[position:start], redact_credential(text[start:end]))
        position, last_start = end, start
        count += 1
    pieces.append(text[position:])
    return _joined(text, pieces, count)


def redact_secret_shapes(text: str, is_sensitive: Matcher) -> tuple[str, int]:
    """Private keys, then tokens, then sensitive pairs.

    Tokens go before pairs: `Authorization=Bearer x` must lose the token even though the pair's
    value stops at the space.
    """
    text, keys = redact_private_keys(text)
    text, tokens = redact_tokens(text)
    text, pairs = redact_pairs(text, is_sensitive)
    return text, keys + tokens + pairs
