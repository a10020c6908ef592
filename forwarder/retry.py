"""Every retry policy of the forwarder, in one place.

Exponential backoff with full jitter (tenacity's ``wait_random_exponential``), so that many
streams recovering at once do not hit the API or a SIEM in lockstep. When the other side says
how long to wait (``Retry-After``, a rate-limit reset), that is honoured instead, up to 300 s:
Cloudflare's rate-limit block is 5 minutes, and a longer wait is more likely a bad header.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_random_exponential,
)
from tenacity.stop import StopBaseT

from forwarder.source.errors import CloudflareRetryableError

MAX_RETRY_AFTER = 300.0

# RFC 9110 delay-seconds is 1*DIGIT; a decimal fraction is accepted too, as several servers send
# one. Signs, exponents, "inf" and "nan" (all of which float() takes) are not a delay.
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (RFC 9110 section 10.2.3), or None.

    The value is delay-seconds or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime
    forms); ``now`` is the epoch time a date is measured from. A date already past means "now"
    (0). Absent, empty, negative or unreadable values are None, so the caller's own backoff
    applies. The result is not capped here: whoever turns it into a wait caps it at
    :data:`MAX_RETRY_AFTER`.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
        # Hundreds of digits overflow to inf: not a usable request.
        return seconds if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        # An HTTP-date is always GMT; "-0000" comes back without a zone.
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


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
