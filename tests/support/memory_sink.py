"""An in-memory sink for pipeline tests, with scripted failures. Registered only in tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic_settings import SettingsConfigDict

from forwarder.sinks.base import (
    Event,
    Rejection,
    RetryableError,
    SendResult,
    Sink,
    SinkConfigError,
    SinkSettings,
)


class MemorySinkSettings(SinkSettings):
    model_config = SettingsConfigDict(env_prefix="FORWARDER_MEMORY__", extra="ignore", frozen=True)


Script = Callable[[Sequence[Event]], SendResult | Exception | None]


class MemorySink(Sink):
    name = "memory"
    settings_model = MemorySinkSettings

    def __init__(self, settings: SinkSettings | None = None, script: Sequence[Script] = ()) -> None:
        super().__init__(settings or MemorySinkSettings())
        self.delivered: list[Event] = []
        self.calls: list[int] = []
        self.script = list(script)

    async def send(self, batch: Sequence[Event]) -> SendResult:
        self.calls.append(len(batch))
        outcome = self.script.pop(0)(batch) if self.script else None
        if isinstance(outcome, Exception):
            raise outcome
        result = outcome or SendResult()
        undelivered = {id(item.event) for item in result.rejected} | {id(event) for event in result.retry}
        self.delivered.extend(event for event in batch if id(event) not in undelivered)
        return result


def fail_once(error: Exception) -> Script:
    return lambda batch: error


def reject(index: int, reason: str) -> Script:
    return lambda batch: SendResult(rejected=[Rejection(batch[index], reason)])


def retry_tail(start: int) -> Script:
    return lambda batch: SendResult(retry=list(batch[start:]), retry_reason="busy", retry_after=0.0)


__all__ = ["MemorySink", "RetryableError", "SinkConfigError", "fail_once", "reject", "retry_tail"]
