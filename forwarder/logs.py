"""Log lines: one JSON object per line for log collectors, ``key=value`` text for a person at a terminal.

Where they go: ``run`` and ``once`` log on standard output, the container convention, unless the
file sink writes its events there (``FORWARDER_FILE__PATH=-``): then on standard error, so that
events and logs never mix. Every other command's standard output is its result (``check`` lines,
the ``demo`` summary, ``map`` NDJSON), so those log on standard error.

A JSON line carries ``time``, ``level``, ``logger``, ``message``, the ``trace_id`` and ``span_id``
of the OpenTelemetry span it was written in (when there is one), and every ``extra=`` field.
Nothing prints a secret: secret settings are never passed to a log call; as a second line of
defence a field whose name says it is a secret is printed as ``[redacted]``, and every line passes
the process's :class:`~forwarder.scrubbing.Scrubber`, which removes the configured secrets' values
and URL user information wherever they appear (a library's exception that quotes a header, say).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TextIO

import orjson
from opentelemetry import trace
from pydantic import SecretStr

from forwarder.scrubbing import REDACTED, Scrubber, without_userinfo

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from forwarder.settings import Config

LogFormat = Literal["auto", "json", "text"]

# Attributes every LogRecord has; anything else was passed with `extra=` and is printed.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
SECRET_NAME = re.compile(r"token|passw|secret|api_?key|authorization|client_key|cloud_id", re.IGNORECASE)


def redact(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr) or (SECRET_NAME.search(key) and value not in (None, "", [])):
        return REDACTED
    if isinstance(value, str):
        return without_userinfo(value)
    return value


def extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: redact(key, value)
        for key, value in vars(record).items()
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def trace_context() -> dict[str, str]:
    """The ids of the span the line is written in; the asyncio task carries it in its context."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def simple(value: Any) -> Any:
    """A setting as JSON has it: URLs, paths and enums as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return plain(value)


def plain(value: Any) -> Any:
    """What orjson cannot serialise, as text (paths, enums, exceptions, settings objects)."""
    if isinstance(value, Enum):
        return value.value
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace id of the span the line belongs to."""

    scrubber = Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= trace_context()
        for key, value in extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = orjson.dumps(entry, default=plain, option=orjson.OPT_NON_STR_KEYS).decode()
        # Scrubbed as JSON text: the scrubber knows the JSON-escaped spelling of every secret.
        return self.scrubber.text(line)


class KeyValueFormatter(logging.Formatter):
    """``time level logger: message key=value ...``: readable, and grep-able by field."""

    scrubber = Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(
            f"{key}={value!r}" if isinstance(value, str) and " " in value else f"{key}={value}"
            for key, value in extras(record).items()
        )
        return self.scrubber.text(f"{line} {fields}" if fields else line)


def uses_json(fmt: LogFormat, stream: TextIO) -> bool:
    if fmt != "auto":
        return fmt == "json"
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # a closed or exotic stream: not a terminal
        return True


def configure(
    level: str, *, fmt: LogFormat = "text", stream: TextIO | None = None, scrubber: Scrubber | None = None
) -> None:
    """Send every log line of the process to ``stream`` (standard error by default) in ``fmt``.

    ``scrubber`` removes the configured secrets from every line; without one, URL user
    information only.
    """
    stream = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(stream)
    formatter: JsonFormatter | KeyValueFormatter
    if uses_json(fmt, stream):
        formatter = JsonFormatter()
    else:
        formatter = KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if scrubber is not None:
        formatter.scrubber = scrubber
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: far too chatty for a poller.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def forwarding_stream(config: Config) -> TextIO:
    """Where ``run`` and ``once`` log: standard output, unless the file sink writes events there."""
    for sink in config.sinks:
        if sink.sink_class.name == "file" and getattr(sink.settings, "path", None) == "-":
            return sys.stderr
    return sys.stdout


def settings_summary(settings: BaseSettings) -> dict[str, Any]:
    """Every setting by its variable name, for the start-up log line; secrets only say they are set."""
    from forwarder.config_sources import env_name

    summary: dict[str, Any] = {}
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        variable = env_name(type(settings), name, field)
        if isinstance(value, SecretStr) or (SECRET_NAME.search(name) and value not in (None, "", [])):
            summary[variable] = "(set)"
        elif isinstance(value, list | tuple):
            summary[variable] = [redact(name, simple(item)) for item in value]
        else:
            summary[variable] = redact(name, simple(value))
    return summary


def config_summary(config: Config) -> Mapping[str, Any]:
    summary = settings_summary(config.settings)
    for sink in config.sinks:
        summary |= settings_summary(sink.settings)
    return summary
