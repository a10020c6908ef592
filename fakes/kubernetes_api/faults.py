"""What the fake Kubernetes API records of each request and write, and the faults it injects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fakes.kubernetes_api.objects import JsonObject

PartitionMode = Literal["timeout", "refuse"]


@dataclass
class ReceivedRequest:
    time: float
    token: str | None
    method: str
    path: str
    user_agent: str
    status: int | None = None
    # "timeout" (never answered), "reset" (connection dropped) or "refused" (partitioned away).
    fault: str = ""


@dataclass
class Write:
    time: float
    token: str | None
    kind: str
    name: str
    method: str
    object: JsonObject


@dataclass
class Fault:
    """What the next ``remaining`` matching requests get instead of an answer."""

    kind: Literal["status", "timeout", "reset"]
    status: int = 500
    retry_after: str | None = None
    method: str | None = None
    plural: str | None = None
    name: str | None = None
    token: str | None = None
    remaining: int = 1

    def matches(self, method: str, plural: str, name: str, token: str | None) -> bool:
        return (
            self.remaining > 0
            and self.method in (None, method)
            and self.plural in (None, plural)
            and self.name in (None, name)
            and self.token in (None, token)
        )


class Dropped(Exception):
    """The connection is closed without an answer."""

    def __init__(self, refused: bool = False) -> None:
        super().__init__("connection refused" if refused else "connection reset by peer")
        self.refused = refused


class GaveUp(Exception):
    """An unanswered request outlived the client's timeout (in-process only)."""
