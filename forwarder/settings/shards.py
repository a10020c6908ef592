"""Accounts spread over the replicas of a StatefulSet: shard ``n`` reads every account whose position
in FORWARDER_ACCOUNT_IDS, modulo the number of shards, is ``n``.

A StatefulSet names its pods ``<name>-0``, ``<name>-1``, ...: the ordinal is the number after the
last dash of the pod name, so every replica finds its shard without any coordination.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

POD_ORDINAL = re.compile(r"-(\d+)$")


def ordinal_from_pod_name(pod_name: str) -> int | None:
    """``forwarder-2`` -> 2; None when the name does not end in ``-<number>``."""
    match = POD_ORDINAL.search(pod_name.strip())
    return int(match.group(1)) if match else None


def shard_accounts(account_ids: Sequence[str], shards: int, ordinal: int) -> list[str]:
    """The accounts shard ``ordinal`` of ``shards`` reads; every account in exactly one shard."""
    if shards <= 1:
        return list(account_ids)
    return [account for index, account in enumerate(account_ids) if index % shards == ordinal]


def shard_lease_name(lease_name: str, shards: int, ordinal: int) -> str:
    """Each shard campaigns for its own Lease, so one shard's standby never blocks another shard."""
    return lease_name if shards <= 1 else f"{lease_name}-{ordinal}"
