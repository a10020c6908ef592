"""Every retry policy of the forwarder, in one place.

Exponential backoff with full jitter (tenacity's ``wait_random_exponential``), so that many
streams recovering at once do not hit the API or a SIEM in lockstep. When the other side says
how long to wait (``Retry-After``, a rate-limit reset), that is honoured instead, up to 300 s:
Cloudflare's rate-limit block is 5 minutes, and a longer wait is more likely a bad header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_random_exponential,
)
from tenacity.stop import StopBaseT

from forwarder.cloudflare.errors import CloudflareRetryableError

MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 60.0

    def waiter(self) -> Callable[[RetryCallState], float]:
        jitter = wait_random_exponential(multiplier=self.initial, max=self.maximum)

        def wait(state: RetryCallState) -> float:
            asked = retry_after_of(state)
            return min(asked, MAX_RETRY_AFTER) if asked is not None else float(jitter(state))

        return wait


def retry_after_of(state: RetryCallState) -> float | None:
    """The server's requested wait carried by the last failure, if any."""
    if state.outcome is None or not state.outcome.failed:
        return None
    asked = getattr(state.outcome.exception(), "retry_after", None)
    return float(asked) if isinstance(asked, int | float) and asked >= 0 else None


def cloudflare_retrying(
    backoff: Backoff,
    *,
    attempts: int | None = None,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """Retries a Cloudflare API call on rate limits, 5xx, network errors and garbled answers.

    No attempt limit by default: the API is the durable buffer, so waiting loses nothing, and a
    person is told through the logs. ``check`` passes a limit so that it answers.
    """
    stop: StopBaseT = stop_after_attempt(attempts) if attempts is not None else stop_never
    return AsyncRetrying(
        retry=retry_if_exception(lambda error: isinstance(error, CloudflareRetryableError)),
        wait=backoff.waiter(),
        stop=stop,
        reraise=True,
        before_sleep=before_sleep,
    )
