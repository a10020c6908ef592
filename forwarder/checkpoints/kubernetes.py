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

Transient API errors (no answer, a timeout, a reset, 429 with its ``Retry-After``, 5xx) are retried
with backoff: for at most ``startup_retry_seconds`` in :meth:`open` (then the process exits and
Kubernetes restarts it), without limit in reads and commits (a commit can wait; it must not be
dropped). When the ConfigMap is deleted while the forwarder runs, the next commit creates it
again with every checkpoint this replica knows (the ConfigMap as it last read or wrote it, and the
positions being committed), never moving a position backwards.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_before_delay, stop_never
from tenacity.stop import StopBaseT

from forwarder.checkpoints.base import CheckpointStore
from forwarder.coordination.api import (
    CONFIG_MAPS,
    JsonObject,
    KubernetesApi,
    KubernetesConfigurationError,
    KubernetesError,
)
from forwarder.retry import Backoff

log = logging.getLogger(__name__)

MANAGED_BY = {"app.kubernetes.io/managed-by": "cloudflare-siem-forwarder"}
# How long `open` keeps retrying an API that fails transiently at start-up: an API server
# restarting or a control-plane upgrade is over well within it; past it, exit and be restarted.
STARTUP_RETRY_SECONDS = 60.0


def config_map_key(stream: str) -> str:
    return stream.replace("/", ".")


def remembered_key(stream: str) -> str:
    return f"{config_map_key(stream)}.remembered"


def _retryable(error: BaseException) -> bool:
    return (
        isinstance(error, KubernetesError)
        and not isinstance(error, KubernetesConfigurationError)
        and error.retryable
        and not error.conflict
    )


def _parsed(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class ConfigMapCheckpointStore(CheckpointStore):
    def __init__(
        self,
        api: KubernetesApi,
        name: str,
        *,
        backoff: Backoff | None = None,
        startup_retry_seconds: float = STARTUP_RETRY_SECONDS,
    ) -> None:
        self.api = api
        self.name = name
        self.backoff = backoff if backoff is not None else Backoff()
        self.startup_retry_seconds = startup_retry_seconds
        # The ConfigMap as last read or written: its resourceVersion is what the next PUT carries.
        self._config_map: JsonObject | None = None
        # The same, but kept when the cached copy is dropped (a conflict, a deletion): what this
        # replica knows, and re-creates a deleted ConfigMap with.
        self._known: JsonObject | None = None
        # A write found the ConfigMap deleted: merge what we know into whatever we write next.
        self._restoring = False
        self._reading: asyncio.Future[JsonObject | None] | None = None
        self._pending: dict[str, datetime] = {}
        self._pending_remembered: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return f"ConfigMap {self.api.namespace}/{self.name}"

    async def close(self) -> None:
        """Close the Kubernetes API client (this store owns it)."""
        await self.api.close()

    async def open(self) -> None:
        """Fail at start, not at the first commit, when the ConfigMap cannot be read (RBAC, no API).

        A transient failure is retried for up to ``startup_retry_seconds``: one 500 or one timeout
        while the API server restarts must not stop the process.
        """
        found: JsonObject | None = None
        try:
            retrying = self._retrying(
                "cannot read the checkpoint ConfigMap at start-up; trying again",
                stop_before_delay(self.startup_retry_seconds),
            )
            async for attempt in retrying:
                with attempt:
                    found = await self.api.get(CONFIG_MAPS, self.name)
        except KubernetesConfigurationError as error:
            raise KubernetesConfigurationError(
                f"FORWARDER_KUBERNETES_CONFIGMAP: cannot read {self.describe()}: {error}"
            ) from error
        except KubernetesError as error:
            if not error.retryable:
                raise
            raise KubernetesError(
                f"cannot read {self.describe()}: the Kubernetes API kept failing for "
                f"{self.startup_retry_seconds:g} s at start-up: {error}",
                status=error.status,
                reason=error.reason,
            ) from error
        if found is not None:
            self._known = found

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
        if self._config_map is not None:
            config_map: JsonObject | None = self._view(self._config_map)
        else:
            config_map = await self._read_retrying()
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
                async for attempt in self._retrying("cannot write the checkpoints; trying again"):
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

    def _retrying(self, message: str, stop: StopBaseT = stop_never) -> AsyncRetrying:
        # No attempt limit by default, as for Cloudflare: the commit can wait, it must not be dropped.
        def say(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                message,
                extra={
                    "configmap": self.describe(),
                    "reason": str(error),
                    "attempt": state.attempt_number,
                    "wait": round(state.upcoming_sleep, 3),
                },
            )

        return AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=self.backoff.waiter(),
            stop=stop,
            reraise=True,
            before_sleep=say,
        )

    async def _read_retrying(self) -> JsonObject | None:
        found: JsonObject | None = None
        async for attempt in self._retrying("cannot read the checkpoint ConfigMap; trying again"):
            with attempt:
                found = await self.api.get(CONFIG_MAPS, self.name)
        self._config_map = found
        # Deleted (or deleted and created again) while we ran: resume from what we know rather than
        # from FORWARDER_START_AT or from older positions; the next commit writes it back.
        self._notice_deletion(found)
        return self._view(found)

    def _view(self, found: JsonObject | None) -> JsonObject | None:
        """``found`` as the next write will leave it: with what we know merged in, while restoring."""
        if not self._restoring:
            return found
        data = dict((found or {}).get("data") or {})
        binary = dict((found or {}).get("binaryData") or {})
        self._merge_known(data, binary)
        return {**(found or {}), "data": data, "binaryData": binary}

    async def _write(self, batch: dict[str, datetime], remembering: dict[str, bytes]) -> None:
        """Merge ``batch`` onto the ConfigMap; on a conflict read it again and merge again.

        What a stream remembers goes with its position: written when the position is not behind
        the one stored (a re-read of the past changes it without moving the position). A ConfigMap
        found deleted is created again with what this replica knows merged in.
        """
        while True:
            current = self._config_map
            if current is None:
                current = self._config_map = await self.api.get(CONFIG_MAPS, self.name)
                self._notice_deletion(current)
            data = dict((current or {}).get("data") or {})
            binary = dict((current or {}).get("binaryData") or {})
            changed = self._merge_known(data, binary) if self._restoring else False
            moved = self._merge_batch(data, binary, batch, remembering)
            if not (changed or moved):
                if current is not None:
                    self._known = current
                self._restoring = False
                return
            written = await self._send(current, data, binary)
            if written is None:
                continue
            self._config_map = self._known = written
            if self._restoring:
                self._restoring = False
                log.warning(
                    "restored the checkpoint ConfigMap with the checkpoints this replica knows",
                    extra={"configmap": self.describe(), "positions": len(data)},
                )
            return

    def _merge_batch(
        self,
        data: dict[str, str],
        binary: dict[str, str],
        batch: dict[str, datetime],
        remembering: dict[str, bytes],
    ) -> bool:
        """Put the positions of ``batch`` (and what their streams remember) into ``data``/``binaryData``
        where they are not behind the stored ones; True if anything changed."""
        changed = False
        for stream, position in batch.items():
            key = config_map_key(stream)
            committed = self._position({"data": data}, stream)
            if committed is None or position > committed:
                data[key] = position.isoformat()
                changed = True
            remembered = remembering.get(stream)
            if remembered is not None and (committed is None or position >= committed):
                encoded = base64.b64encode(remembered).decode()
                changed = changed or binary.get(remembered_key(stream)) != encoded
                binary[remembered_key(stream)] = encoded
        return changed

    async def _send(
        self, current: JsonObject | None, data: dict[str, str], binary: dict[str, str]
    ) -> JsonObject | None:
        """Create the ConfigMap (``current`` None) or replace ``current``; the object written, or None
        when it changed or went away since it was read and must be read and merged again."""
        try:
            contents: JsonObject = {"data": data, **({"binaryData": binary} if binary else {})}
            if current is None:
                body: JsonObject = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": self.name, "labels": MANAGED_BY},
                    **contents,
                }
                return await self.api.create(CONFIG_MAPS, body)
            return await self.api.replace(CONFIG_MAPS, self.name, {**current, **contents})
        except KubernetesError as error:
            self._config_map = None
            if isinstance(error, KubernetesConfigurationError):
                raise
            if error.not_found and current is not None:
                # The PUT of the cached object: deleted since we read it.
                self._restore("the checkpoint ConfigMap was deleted")
                return None
            if not error.conflict:
                raise
            return None

    def _notice_deletion(self, found: JsonObject | None) -> None:
        """Compare a fresh read with what we knew: gone, or another object (a new uid) in its place,
        means it was deleted, and what we knew must be written back. Otherwise it is what we know."""
        if self._restoring:
            return  # what we knew is kept until a write has merged it
        known_uid = ((self._known or {}).get("metadata") or {}).get("uid")
        found_uid = ((found or {}).get("metadata") or {}).get("uid")
        if self._known is not None and found is None:
            self._restore("the checkpoint ConfigMap was deleted")
        elif known_uid and found_uid and known_uid != found_uid:
            self._restore("the checkpoint ConfigMap was deleted and created again")
        elif found is not None:
            self._known = found

    def _restore(self, what: str) -> None:
        if not self._restoring:
            log.warning(
                f"{what}; writing back the checkpoints this replica knows (no position moves backwards)",
                extra={"configmap": self.describe()},
            )
        self._restoring = True

    def _merge_known(self, data: dict[str, str], binary: dict[str, str]) -> bool:
        """Put what this replica knows into ``data``/``binaryData`` where it is ahead; True if it changed.

        Never backwards: a position is taken only where the one found is missing or earlier, and
        the remembered ids of a stream only together with its position.
        """
        known = self._known or {}
        changed = False
        for key, value in (known.get("data") or {}).items():
            ours, found = _parsed(value), _parsed(data.get(key))
            if key not in data or (ours is not None and found is not None and ours > found):
                data[key] = value
                changed = True
        for key, value in (known.get("binaryData") or {}).items():
            stream_key = key.removesuffix(".remembered")
            same_position = data.get(stream_key) == (known.get("data") or {}).get(stream_key)
            if same_position and binary.get(key) != value:
                binary[key] = value
                changed = True
        return changed

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
