"""Parsers for CEF and LEEF lines, written apart from the sink's encoders so tests can read back
what the sink wrote (as a SIEM would) and compare it with what went in."""

from __future__ import annotations

from dataclasses import dataclass

CEF_EXTENSION_UNESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


@dataclass(frozen=True)
class Cef:
    version: str
    header: list[str]  # vendor, product, device version, class id, name, severity
    extension: dict[str, str]


@dataclass(frozen=True)
class Leef:
    version: str
    header: list[str]  # vendor, product, version, event id
    delimiter: str
    attributes: dict[str, str]


def split_header(line: str, count: int) -> tuple[list[str], str]:
    """The first ``count`` fields separated by unescaped ``|`` (with ``\\|`` and ``\\\\``), and the rest."""
    fields: list[str] = []
    current: list[str] = []
    position = 0
    while len(fields) < count:
        character = line[position]
        if character == "\\" and line[position + 1] in "|\\":
            current.append(line[position + 1])
            position += 2
            continue
        if character == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(character)
        position += 1
    return fields, line[position:]


def parse_cef(line: str) -> Cef:
    assert line.startswith("CEF:"), line
    fields, extension = split_header(line[4:], 7)
    return Cef(version=fields[0], header=fields[1:], extension=parse_cef_extension(extension))


def parse_cef_extension(text: str) -> dict[str, str]:
    """Split on unescaped ``=``: the key is the last space-separated word before it."""
    pieces: list[str] = []  # alternating: text before first '=', value+key, value+key, ..., last value
    current: list[str] = []
    position = 0
    while position < len(text):
        character = text[position]
        if character == "\\":
            following = text[position + 1]
            current.append(CEF_EXTENSION_UNESCAPES[following])
            position += 2
            continue
        if character == "=":
            pieces.append("".join(current))
            current = []
        else:
            current.append(character)
        position += 1
    pieces.append("".join(current))
    result: dict[str, str] = {}
    if pieces == [""]:
        return result
    key = pieces[0]
    for piece in pieces[1:-1]:
        value, _, next_key = piece.rpartition(" ")
        result[key] = value
        key = next_key
    if len(pieces) > 1:
        result[key] = pieces[-1]
    return result


def parse_leef(line: str) -> Leef:
    assert line.startswith("LEEF:"), line
    fields, attributes = split_header(line[5:], 6)
    version, vendor, product, device_version, event_id, delimiter = fields
    if len(delimiter) > 1:
        delimiter = chr(int(delimiter.lower().removeprefix("0").removeprefix("x"), 16))
    return Leef(
        version=version,
        header=[vendor, product, device_version, event_id],
        delimiter=delimiter,
        attributes=parse_leef_attributes(attributes, delimiter),
    )


def parse_leef_attributes(text: str, delimiter: str) -> dict[str, str]:
    unescapes = {"\\": "\\", delimiter: delimiter, "n": "\n", "r": "\r"}
    pairs: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(text):
        character = text[position]
        if character == "\\":
            current.append("\\" + unescapes[text[position + 1]])
            position += 2
            continue
        if character == delimiter:
            pairs.append("".join(current))
            current = []
        else:
            current.append(character)
        position += 1
    pairs.append("".join(current))
    result: dict[str, str] = {}
    for pair in pairs:
        if not pair:
            continue
        key, _, value = pair.partition("=")
        # Escapes were kept as "\" + character above so the split on "=" saw the raw text.
        result[key] = unescape_marked(value)
    return result


def unescape_marked(value: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(value):
        if value[position] == "\\":
            out.append(value[position + 1])
            position += 2
        else:
            out.append(value[position])
            position += 1
    return "".join(out)
