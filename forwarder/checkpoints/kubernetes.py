"""Positions kept in a ConfigMap, so that a pod rescheduled anywhere resumes where the last one committed.

The ConfigMap's ``data`` maps ``<account>.<log type>`` (a ConfigMap key cannot hold a ``/``) to an
RFC 3339 time. Every write is a PUT carrying the ``resourceVersion`` last read: when another
writer (another shard, or a leader that has just lost its lease) changed the ConfigMap meanwhile,
the API answers 409 Conflict and the write is merged again onto a fresh read. The merge keeps the
later of the two positions of a stream, so a position never moves backwards, whoever writes last.

The forwarder creates the ConfigMap on its first commit (and never deletes it), so that the state
outlives a `helm uninstall` and the chart need not own data it would overwrite on upgrade.
Commits of many streams that arrive while a write is under way go out together in the next one.
"""

from __future__ import annotations

import asyncio
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

    async def commit(self, stream: str, position: datetime) -> None:
        earlier = self._pending.get(stream)
        self._pending[stream] = position if earlier is None else max(earlier, position)
        async with self._lock:
            if stream not in self._pending:
                return  # the write that just finished carried it
            batch, self._pending = self._pending, {}
            try:
                async for attempt in self._retrying():
                    with attempt:
                        await self._write(batch)
            except BaseException:
                for key, value in batch.items():
                    newer = self._pending.get(key)
                    self._pending[key] = value if newer is None else max(newer, value)
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

    async def _write(self, batch: dict[str, datetime]) -> None:
        """Merge ``batch`` onto the ConfigMap; on a conflict read it again and merge again."""
        while True:
            current = self._config_map
            if current is None:
                current = self._config_map = await self.api.get(CONFIG_MAPS, self.name)
            data = dict((current or {}).get("data") or {})
            changed = False
            for stream, position in batch.items():
                committed = self._position(current, stream)
                if committed is None or position > committed:
                    data[config_map_key(stream)] = position.isoformat()
                    changed = True
            if not changed:
                return
            try:
                if current is None:
                    body: JsonObject = {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": self.name, "labels": MANAGED_BY},
                        "data": data,
                    }
                    self._config_map = await self.api.create(CONFIG_MAPS, body)
                else:
                    self._config_map = await self.api.replace(
                        CONFIG_MAPS, self.name, {**current, "data": data}
                    )
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
