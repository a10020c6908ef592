"""Sensitive elements and attributes of XML-like markup (SOAP, SAML, HTML forms), redacted.

Markup is read leniently, as a tag scanner rather than a parser: IdP bodies may be fragments,
broken, or HTML. What is redacted:

* the content of an element whose local name (the part after a namespace prefix) is sensitive,
  CDATA and nested elements included: ``<wsse:Password>…</wsse:Password>``;
* the value of an attribute whose local name is sensitive: ``<user password="…">``;
* the ``value``/``content`` attributes and the content of an element whose naming attribute
  (``name``, ``key``, ``path``, ``type``…) holds a sensitive name, the markup counterpart of a
  PATCH ``path``: ``<Attribute Name="password"><AttributeValue>…</AttributeValue></Attribute>``,
  ``<input type="password" value="…">``.

An element that is never closed is redacted up to the next tag (to the end of the text if there
is none): a broken document is no reason to ship its secret.

Linear time: tags are found with possessive patterns between ``<`` and the next ``<`` or ``>``,
comments and CDATA are skipped with ``str.find``, and the closing tag of each sensitive element
is matched in one pass with a stack per element name before the pass that redacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from forwarder.source.scim_secrets import REDACTED, Matcher, path_is_sensitive

_TAG = re.compile(r"<(?P<closing>/?)(?P<name>[A-Za-z_][\w.:-]*+)(?P<attributes>[^<>]*+)>")
_ATTRIBUTE = re.compile(
    r"""(?<![\w.:-])(?P<name>[A-Za-z_][\w.:-]*+)\s*+=\s*+(?P<value>"[^"]*+"|'[^']*+'|[^\s"'>]++)"""
)
_MARKUP_START = re.compile(r"\s*+\ufeff?<[?!A-Za-z_]")
# Attributes that name what an element (or its `value` attribute) holds.
_NAMING = frozenset({"name", "key", "path", "field", "property", "type", "id"})
_HOLDING = frozenset({"value", "content"})
_SKIPPED = (("<![CDATA[", "]]>"), ("<!--", "-->"))


def looks_like_markup(body: str) -> bool:
    return _MARKUP_START.match(body) is not None and ">" in body


def _tags(text: str, start: int = 0) -> Iterator[re.Match[str]]:
    """Every tag from `start`, comments and CDATA sections skipped (an unterminated one ends it)."""
    position = start
    while (opening := text.find("<", position)) >= 0:
        skipped = next((end for begin, end in _SKIPPED if text.startswith(begin, opening)), None)
        if skipped is not None:
            close = text.find(skipped, opening)
            if close < 0:
                return
            position = close + len(skipped)
            continue
        tag = _TAG.match(text, opening)
        if tag is None:
            position = opening + 1
            continue
        yield tag
        position = tag.end()


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _unquoted(value: str) -> tuple[int, int]:
    """Where an attribute value's text begins and ends inside `value`, its quotes left out."""
    return (1, len(value) - 1) if value[:1] in "\"'" else (0, len(value))


def _holds_secret(tag: re.Match[str], is_sensitive: Matcher) -> bool:
    if is_sensitive(_local(tag["name"])):
        return True
    attributes = tag["attributes"]
    if "=" not in attributes:
        return False
    for attribute in _ATTRIBUTE.finditer(attributes):
        if _local(attribute["name"]).lower() in _NAMING:
            begin, end = _unquoted(attribute["value"])
            if path_is_sensitive(attribute["value"][begin:end], is_sensitive):
                return True
    return False


def _redact_attributes(attributes: str, holds_secret: bool, is_sensitive: Matcher) -> tuple[str, int]:
    if "=" not in attributes:
        return attributes, 0
    pieces: list[str] = []
    position = count = 0
    for attribute in _ATTRIBUTE.finditer(attributes):
        local = _local(attribute["name"])
        if not (is_sensitive(local) or (holds_secret and local.lower() in _HOLDING)):
            continue
        begin, end = _unquoted(attribute["value"])
        offset = attribute.start("value")
        inner = attributes[offset + begin : offset + end]
        if inner and inner != REDACTED:
            pieces += (attributes[position : offset + begin], REDACTED)
            position = offset + end
            count += 1
    pieces.append(attributes[position:])
    return ("".join(pieces), count) if count else (attributes, 0)


def _matching_closes(text: str, is_sensitive: Matcher) -> dict[int, int]:
    """Start of each secret-holding element's opening tag -> start of its closing tag.

    Elements of the same name as a pending secret-holding one are stacked too, so that nesting
    (`<secret><secret>…</secret>…</secret>`) closes the outer element at the outer closing tag.
    """
    stacks: dict[str, list[int]] = {}
    closes: dict[int, int] = {}
    for tag in _tags(text):
        name = tag["name"]
        if tag["closing"]:
            opened = stacks.get(name)
            if opened:
                closes[opened.pop()] = tag.start()
        elif not tag["attributes"].endswith("/") and (stacks.get(name) or _holds_secret(tag, is_sensitive)):
            stacks.setdefault(name, []).append(tag.start())
    return closes


def _next_tag(text: str, start: int) -> int:
    return next((tag.start() for tag in _tags(text, start)), len(text))


def redact_markup(text: str, is_sensitive: Matcher) -> tuple[str, int]:
    """Sensitive element contents and attribute values (see the module doc)."""
    if "<" not in text or ">" not in text:
        return text, 0
    closes = _matching_closes(text, is_sensitive)
    pieces: list[str] = []
    position = count = skip_until = 0
    for tag in _tags(text):
        if tag.start() < skip_until or tag["closing"]:
            continue
        holds_secret = _holds_secret(tag, is_sensitive)
        attributes, redacted = _redact_attributes(tag["attributes"], holds_secret, is_sensitive)
        if redacted:
            pieces += (text[position : tag.start("attributes")], attributes)
            position = tag.end("attributes")
            count += redacted
        if not holds_secret or tag["attributes"].endswith("/"):
            continue
        end = closes.get(tag.start())
        end = end if end is not None else _next_tag(text, tag.end())
        content = text[tag.end() : end].strip()
        if content and content != REDACTED:
            pieces += (text[position : tag.end()], REDACTED)
            position = end
            count += 1
        skip_until = end
    pieces.append(text[position:])
    return ("".join(pieces), count) if count else (text, 0)
