"""Log lines on standard error: standard output belongs to the file sink when it writes there."""

from __future__ import annotations

import logging
import sys

# Attributes every LogRecord has; anything else was passed with `extra=` and is printed.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """``time level logger: message key=value ...``: readable, and grep-able by field."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{key}={value!r}" if isinstance(value, str) and " " in value else f"{key}={value}"
            for key, value in vars(record).items()
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        return f"{line} {extras}" if extras else line


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: far too chatty for a poller.
    logging.getLogger("httpx").setLevel(logging.WARNING)
