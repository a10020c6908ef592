"""What the pipeline does with a batch a sink sends, minus the backoff: for delivery tests of any sink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from forwarder.sinks.base import Event, Rejection, RetryableError, Sink


@dataclass
class Delivery:
    rejected: list[Rejection] = field(default_factory=list)
    sends: int = 0
    retryable_errors: list[RetryableError] = field(default_factory=list)


async def deliver(sink: Sink, batch: Sequence[Event], max_sends: int = 200) -> Delivery:
    """What the pipeline does with a batch (minus the backoff): resend what the sink says to resend.

    A whole batch goes again on RetryableError, ``SendResult.retry`` goes again, rejections are
    collected for the dead letters. Fails the test if the sink never converges.
    """
    outcome = Delivery()
    pending = list(batch)
    while pending:
        if outcome.sends >= max_sends:
            raise AssertionError(f"still {len(pending)} events to send after {max_sends} sends")
        outcome.sends += 1
        try:
            result = await sink.send(pending)
        except RetryableError as error:
            outcome.retryable_errors.append(error)
            continue
        outcome.rejected.extend(result.rejected)
        sent = {event.event_id for event in pending}
        assert {event.event_id for event in result.retry} <= sent
        pending = list(result.retry)
    return outcome
