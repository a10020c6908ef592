"""Where each event of one ``send`` ends up, for a sink that cuts a batch into requests: the
bookkeeping behind the contract that every event is delivered, sent back, or dead-lettered, once.

Events keep their position in the batch, so that what goes back to the pipeline keeps the batch's
(time) order however the requests were cut, halved or answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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


# Sends one request of items, recording where each ends up; False once the receiver asked to back off.
Deliver = Callable[[Sequence[Item[Encoded]]], Awaitable[bool]]


async def deliver_in_turn(
    requests: Sequence[Sequence[Item[Encoded]]], deliver: Deliver[Encoded], progress: Progress[Encoded]
) -> None:
    """Send ``requests`` one after another; once the receiver asks to back off, the rest wait with it."""
    for number, request in enumerate(requests):
        if not await deliver(request):
            later = [item for waiting in requests[number + 1 :] for item in waiting]
            progress.send_again(later, progress.retry_reason, progress.retry_after)
            return


async def deliver_halves(
    items: Sequence[Item[Encoded]], deliver: Deliver[Encoded], progress: Progress[Encoded]
) -> bool:
    """Send ``items`` again as two requests, after the receiver refused them together (too large, or one
    event it cannot take and will not name): halving down to one finds that event, the rest goes through.
    False once the receiver asked to back off; the second half then waits too."""
    half = len(items) // 2
    if not await deliver(items[:half]):
        progress.send_again(items[half:], progress.retry_reason, progress.retry_after)
        return False
    return await deliver(items[half:])
