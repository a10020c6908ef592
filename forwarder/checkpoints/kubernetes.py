"""Positions kept in a ConfigMap, so that a pod rescheduled anywhere resumes where the last one committed.

The ConfigMap's ``data`` maps ``<account>.<log type>`` (a ConfigMap key cannot hold a ``/``) to an
RFC 3339 time. Every write is a PUT carrying the ``resourceVersion`` last read: when another
writer (another shard, or a leader that has just lost its lease) changed the ConfigMap meanwhile,
the API answers 409 Conflict and the write is merged again onto a fresh read. The merge keeps the
later of the two positions of a stream, so a position never moves backwards, whoever writes last.

What each stream remembers beside its position (the ids of recently delivered events) is kept in
``binaryData`` under ``<account>.<log type>.remembered`` (the API refuses a key in both maps), in the
same write, so ``data`` keeps its plain shape.

The forwarder creates the ConfigMap on its first commit (and never deletes it), so that the state
outlives a `helm uninstall` and the chart need not own data it would overwrite on upgrade.
Commits of many streams that arrive while a write is under way go out together in the next one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime

from tenacity import AsyncRetrying, retry_if_exception, stop_never

from forwarder.checkpoints.base import CheckpointStore
from forwarder.kubernetes.api import (
    CONFIG_MAPS,
    JsonObject,
    KubernetesApi,
    KubernetesConfigurationError,
    KubernetesError,
)
from forwarder.retry import Backoff

MANAGED_BY = {"app.kubernetes.io/managed-by": "cloudflare-siem-forwarder"}


def config_map_key(stream: str) -> str:
    return stream.replace("/", ".")


def remembered_key(stream: str) -> str:
    return f"{config_map_key(stream)}.remembered"


def _retryable(error: BaseException) -> bool:
    return isinstance(error, KubernetesError) and error.retryable and not error.conflict


class ConfigMapCheckpointStore(CheckpointStore):
    def __init__(self, api: KubernetesApi, name: str, *, backoff: Backoff | None = None) -> None:
        self.api = api
        self.name = name
        self.backoff = backoff if backoff is not None else Backoff()
        # The ConfigMap as last read or written: its resourceVersion is what the next PUT carries.
        self._config_map: JsonObject | None = None
        self._reading: asyncio.Future[JsonObject | None] | None = None
        self._pending: dict[str, datetime] = {}
        self._pending_remembered: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return f"ConfigMap {self.api.namespace}/{self.name}"

    async def close(self) -> None:
        await self.api.close()

    async def check(self) -> None:
        """Fail at start, not at the first commit, when the ConfigMap cannot be read (RBAC, no API)."""
        try:
            await self.api.get(CONFIG_MAPS, self.name)
        except KubernetesConfigurationError as error:
            raise KubernetesConfigurationError(
                f"FORWARDER_KUBERNETES_CONFIGMAP: cannot read {self.describe()}: {error}"
            ) from error

    async def load(self, stream: str) -> datetime | None:
        # Always a fresh read: a new leader must see what the previous one committed. Streams starting
        # together share one request.
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_retrying())
            self._reading.add_done_callback(lambda _: setattr(self, "_reading", None))
        config_map = await asyncio.shield(self._reading)
        return self._position(config_map, stream)

    async def load_remembered(self, stream: str) -> bytes | None:
        # `load` has just read the ConfigMap afresh: its copy is current.
        config_map = self._config_map if self._config_map is not None else await self._read_retrying()
        value = ((config_map or {}).get("binaryData") or {}).get(remembered_key(stream))
        try:
            return base64.b64decode(str(value), validate=True) if value else None
        except binascii.Error:
            return None  # read again with nothing remembered: duplicates, not loss

    async def commit(self, stream: str, position: datetime, remembered: bytes | None = None) -> None:
        earlier = self._pending.get(stream)
        if earlier is None or position >= earlier:
            self._pending[stream] = position
            if remembered is not None:
                self._pending_remembered[stream] = remembered
        async with self._lock:
            if stream not in self._pending:
                return  # the write that just finished carried it
            batch, self._pending = self._pending, {}
            remembering, self._pending_remembered = self._pending_remembered, {}
            try:
                async for attempt in self._retrying():
                    with attempt:
                        await self._write(batch, remembering)
            except BaseException:
                for key, value in batch.items():
                    newer = self._pending.get(key)
                    if newer is None or value > newer:
                        self._pending[key] = value
                        if key in remembering:
                            self._pending_remembered[key] = remembering[key]
                raise

    def _retrying(self) -> AsyncRetrying:
        # No attempt limit, as for Cloudflare: the commit can wait, it must not be dropped.
        return AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=self.backoff.waiter(),
            stop=stop_never,
            reraise=True,
        )

    async def _read_retrying(self) -> JsonObject | None:
        async for attempt in self._retrying():
            with attempt:
                self._config_map = await self.api.get(CONFIG_MAPS, self.name)
        return self._config_map

    async def _write(self, batch: dict[str, datetime], remembering: dict[str, bytes]) -> None:
        """Merge ``batch`` onto the ConfigMap; on a conflict read it again and merge again.

        What a stream remembers goes with its position: written when the position is not behind
        the one stored (a re-read of the past changes it without moving the position).
        """
        while True:
            current = self._config_map
            if current is None:
                current = self._config_map = await self.api.get(CONFIG_MAPS, self.name)
            data = dict((current or {}).get("data") or {})
            binary = dict((current or {}).get("binaryData") or {})
            changed = False
            for stream, position in batch.items():
                committed = self._position(current, stream)
                key = config_map_key(stream)
                if committed is None or position > committed:
                    data[key] = position.isoformat()
                    changed = True
                remembered = remembering.get(stream)
                if remembered is not None and (committed is None or position >= committed):
                    encoded = base64.b64encode(remembered).decode()
                    changed = changed or binary.get(remembered_key(stream)) != encoded
                    binary[remembered_key(stream)] = encoded
            if not changed:
                return
            try:
                contents: JsonObject = {"data": data, **({"binaryData": binary} if binary else {})}
                if current is None:
                    body: JsonObject = {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": self.name, "labels": MANAGED_BY},
                        **contents,
                    }
                    self._config_map = await self.api.create(CONFIG_MAPS, body)
                else:
                    self._config_map = await self.api.replace(CONFIG_MAPS, self.name, {**current, **contents})
                return
            except KubernetesError as error:
                self._config_map = None
                if not error.conflict:
                    raise

    def _position(self, config_map: JsonObject | None, stream: str) -> datetime | None:
        value = ((config_map or {}).get("data") or {}).get(config_map_key(stream))
        if not value:
            return None
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            # Starting over from FORWARDER_START_AT would silently skip or repeat events.
            raise KubernetesConfigurationError(
                f"FORWARDER_KUBERNETES_CONFIGMAP: key {config_map_key(stream)!r} of {self.describe()} is "
                f"not an RFC 3339 time; fix or remove it"
            ) from None
