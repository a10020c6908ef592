"""The wire format of HEC event requests, apart from the fake's server: tokens, event objects back
to back, the checks Splunk makes on each (in order, stopping at the first bad one), and HEC's
``{"text": ..., "code": N}`` answers. :mod:`fakes.splunk_hec` serves it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


@dataclass
class HecToken:
    value: str
    enabled: bool = True
    use_ack: bool = False
    # None: any index; otherwise the token's allow-list (code 7 for an index outside it).
    allowed_indexes: frozenset[str] | None = None
    default_index: str = "main"


class Refusal(Exception):
    """A request HEC refuses, with its code and text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def parse_events(
    body: bytes, token: HecToken, refuse: Callable[[Mapping[str, Any]], bool]
) -> tuple[list[tuple[Mapping[str, Any], str]], Refusal | None, int]:
    """The events up to the first bad one, the refusal if any, and the bad one's number."""
    events: list[tuple[Mapping[str, Any], str]] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return events, Refusal(6, "Invalid data format"), 0
    position = 0
    while True:
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        if position >= len(text):
            return events, None, len(events)
        number = len(events)
        try:
            envelope, position = _DECODER.raw_decode(text, position)
            index = _validate(envelope, token, refuse)
        except json.JSONDecodeError:
            return events, Refusal(6, "Invalid data format"), number
        except Refusal as refusal:
            return events, refusal, number
        events.append((envelope, index))


def _validate(envelope: Any, token: HecToken, refuse: Callable[[Mapping[str, Any]], bool]) -> str:
    if not isinstance(envelope, dict):
        raise Refusal(6, "Invalid data format")
    if "event" not in envelope:
        raise Refusal(12, "Event field is required")
    if envelope["event"] in ("", None):
        raise Refusal(13, "Event field cannot be blank")
    moment = envelope.get("time")
    if moment is not None and not _is_epoch(moment):
        raise Refusal(6, "Invalid data format")
    fields = envelope.get("fields")
    if fields is not None and not _flat(fields):
        raise Refusal(15, "Error in handling indexed fields")
    index = envelope.get("index") or token.default_index
    if not isinstance(index, str) or (
        token.allowed_indexes is not None and index not in token.allowed_indexes
    ):
        raise Refusal(7, "Incorrect index")
    if refuse(envelope):
        raise Refusal(6, "Invalid data format")
    return index


_REFUSAL_STATUS = {1: 403, 2: 401, 3: 401, 4: 403}


def refusal_answer(refusal: Refusal) -> web.Response:
    return hec_response(_REFUSAL_STATUS.get(refusal.code, 400), refusal.code, refusal.text)


def hec_response(status: int, code: int, text: str, **extra: Any) -> web.Response:
    return web.json_response({"text": text, "code": code, **extra}, status=status)


def _is_epoch(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _flat(fields: Any) -> bool:
    if not isinstance(fields, dict):
        return False
    scalar = (str, int, float)
    return all(
        isinstance(value, scalar)
        or (isinstance(value, list) and all(isinstance(item, scalar) for item in value))
        for value in fields.values()
    )


def event_count(body: bytes) -> int:
    """How many JSON objects a HEC body holds (they are concatenated); a broken one counts as one."""
    text, decoder, count, position = body.decode("utf-8", "replace"), json.JSONDecoder(), 0, 0
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            break
        try:
            _, position = decoder.raw_decode(text, position)
        except ValueError:
            return count + 1
        count += 1
    return count
