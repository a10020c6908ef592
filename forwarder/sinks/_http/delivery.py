"""Where each event of one ``send`` ends up, for a sink that cuts a batch into requests: the
bookkeeping behind the contract that every event is delivered, sent back, or dead-lettered, once.

Events keep their position in the batch, so that what goes back to the pipeline keeps the batch's
(time) order however the requests were cut, halved or answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from forwarder.sinks.base import Event, Rejection, RetryableError, SendResult

Encoded = TypeVar("Encoded")


@dataclass(frozen=True, slots=True)
class Item(Generic[Encoded]):
    position: int
    event: Event
    # What the sink made of the event for the wire, and its size there.
    encoded: Encoded
    size: int


@dataclass(slots=True)
class Progress(Generic[Encoded]):
    """Where each event of one ``send`` ended up so far."""

    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    retry: list[Item[Encoded]] = field(default_factory=list)
    retry_reason: str = ""
    retry_after: float | None = None

    def send_again(
        self, items: Sequence[Item[Encoded]], reason: str, retry_after: float | None = None
    ) -> None:
        self.retry.extend(items)
        self.retry_reason = reason
        if retry_after is not None:
            self.retry_after = max(retry_after, self.retry_after or 0.0)

    def reject(self, items: Sequence[Item[Encoded]], reason: str) -> None:
        self.rejected.extend((item.position, Rejection(item.event, reason)) for item in items)

    def result(self, size: int) -> SendResult:
        """The answer to ``send`` of a batch of ``size`` events; RetryableError if none went through."""
        if len(self.retry) == size:
            raise RetryableError(self.retry_reason, self.retry_after)
        return SendResult(
            rejected=[rejection for _, rejection in sorted(self.rejected, key=lambda pair: pair[0])],
            retry=[item.event for item in sorted(self.retry, key=lambda item: item.position)],
            retry_reason=self.retry_reason,
            retry_after=self.retry_after,
        )
