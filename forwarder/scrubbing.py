"""One scrubber for every string a person or a collector reads: log lines, `check`, `/status`, `/readyz`.

It removes the values of the configured secrets wherever they appear (an error message that
quotes a header, an exception that quotes a URL) and the user information of any URL. Secret
settings are never passed to a log call to begin with; this is the line behind that one, so that
a message built from a library's exception cannot carry a credential out.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import AnyUrl, BaseModel, SecretStr

if TYPE_CHECKING:
    from forwarder.settings import Config

REDACTED = "[redacted]"
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
# Shorter values would scrub ordinary words; no credential this project accepts is that short.
MINIMUM_SECRET_LENGTH = 6


def without_userinfo(text: str) -> str:
    """``text`` with the user information of every URL in it replaced."""
    return URL_USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)


def spellings(secret: str) -> Iterator[str]:
    """The ways a secret can appear in text: as it is, JSON-escaped, percent-encoded, in a repr."""
    yield secret
    yield orjson.dumps(secret).decode()[1:-1]
    yield urllib.parse.quote(secret, safe="")
    yield urllib.parse.quote_plus(secret)
    yield repr(secret)[1:-1]
    yield repr(secret.encode())[2:-1]


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {
            spelling
            for secret in secrets
            for spelling in spellings(secret)
            if len(spelling) >= MINIMUM_SECRET_LENGTH
        }
        # Longest first: a secret that contains another is removed whole.
        ordered = sorted(found, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, value: str) -> str:
        if self._secrets is not None:
            value = self._secrets.sub(REDACTED, value)
        return without_userinfo(value)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it scrubbed (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def document(self, value: dict[str, Any]) -> dict[str, Any]:
        """A JSON document (``/status``) with every string in it scrubbed."""
        return {key: self.value(item) for key, item in value.items()}

    @classmethod
    def from_config(cls, config: Config) -> Scrubber:
        return cls(secret_values([config.settings, *(sink.settings for sink in config.sinks)]))


def secret_values(models: Iterable[BaseModel]) -> Iterator[str]:
    """Every secret a settings model holds: its ``SecretStr`` fields and the passwords of its URLs."""
    for model in models:
        for name in type(model).model_fields:
            value = getattr(model, name, None)
            if isinstance(value, SecretStr):
                yield value.get_secret_value()
            elif isinstance(value, AnyUrl) and value.password:
                yield value.password
                yield urllib.parse.unquote(value.password)
            elif isinstance(value, str) and "@" in value:
                parsed = urllib.parse.urlsplit(value)
                if parsed.password:
                    yield parsed.password
