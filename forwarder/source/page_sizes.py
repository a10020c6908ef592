"""What one credential has learned about each endpoint's real page size.

A server may cap pages below the ``per_page`` asked for, without saying so. A short page then
looks like the last one, and everything after it in the window would be skipped. Until the real
size is known, the reader asks for one more page after a short one; what that answer proves is
kept here, per endpoint (operation), for every stream of the credential.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class PageSizes:
    def __init__(self) -> None:
        # The server caps pages of this endpoint at this many rows.
        self._caps: dict[str, int] = {}
        # The largest size this endpoint has been seen to fill: a shorter page at it is the last.
        self._honoured: dict[str, int] = {}
        # The longest page this endpoint has returned: a cap, if there is one, is at least that.
        self._longest: dict[str, int] = {}

    def asked(self, operation: str, wanted: int) -> int:
        """The page size to ask for: ``wanted``, or the server's cap when smaller."""
        cap = self._caps.get(operation)
        return wanted if cap is None else min(wanted, cap)

    def known(self, operation: str, asked: int) -> bool:
        """Whether a page shorter than ``asked`` is, for sure, the last one."""
        cap = self._caps.get(operation)
        return (cap is not None and asked <= cap) or self._honoured.get(operation, 0) >= asked

    def last(self, operation: str, asked: int, count: int) -> bool:
        """Whether a page of ``count`` rows, shorter than ``asked``, is for sure the last one.

        Besides a known size: a server that caps pages fills every page but the last to its cap, and
        the cap is at least the longest page it ever returned, so a page shorter than that one is the
        last. Only a page as long as any seen before needs the next page to tell; at a steady volume
        that is a few pages, not every poll's.
        """
        return self.known(operation, asked) or count < self._longest.get(operation, 0)

    def returned(self, operation: str, count: int) -> None:
        """The endpoint returned a page of ``count`` rows."""
        if count > self._longest.get(operation, 0):
            self._longest[operation] = count

    def honoured(self, operation: str, size: int) -> None:
        """The server filled a page of ``size`` rows."""
        if size > self._honoured.get(operation, 0):
            self._honoured[operation] = size

    def capped(self, operation: str, size: int, wanted: int) -> None:
        """The page after a page of ``size`` rows brought more: the server's pages hold ``size``."""
        if self._caps.get(operation) == size:
            return
        self._caps[operation] = size
        self.honoured(operation, size)
        log.warning(
            "the Cloudflare API returns at most %d rows per page of %s although FORWARDER_PAGE_SIZE "
            "asks for %d; asking for %d from now on",
            size,
            operation,
            wanted,
            size,
            extra={"operation": operation, "page_size": size, "asked": wanted},
        )

    def cap(self, operation: str) -> int | None:
        return self._caps.get(operation)
