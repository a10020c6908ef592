"""Kubernetes as the coordination engine: the API client and Lease leader election (one Lease per
account shard; the shards themselves are settings, :mod:`forwarder.settings.shards`).

The client and the elector are imported when first built, not with this package: a forwarder without
leader election or the ConfigMap store never loads them (start-up cost, for ``once`` in a CronJob).
"""

from __future__ import annotations

import secrets
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forwarder.coordination.api import KubernetesApi
    from forwarder.coordination.leader import LeaderElector
    from forwarder.settings import Settings


def kubernetes_api(settings: Settings, identity: str = "") -> KubernetesApi:
    from forwarder.coordination.api import ClusterAccess, KubernetesApi

    access = ClusterAccess.discover(
        api_url=settings.kubernetes_api_url,
        namespace=settings.kubernetes_namespace,
        service_account_dir=settings.kubernetes_service_account_dir,
    )
    # Its own timeout, not Cloudflare's (FORWARDER_REQUEST_TIMEOUT, 30 s): a Lease renewal must be able
    # to time out and try again well within the renew deadline.
    return KubernetesApi(access, timeout=settings.kubernetes_request_timeout, identity=identity)


def replica_identity(settings: Settings) -> str:
    """The pod name plus a random suffix, as client-go does: a pod restarted under the same name
    (a StatefulSet's) is a new candidate and waits for the old lease to expire or be released."""
    return f"{settings.resolved_pod_name() or socket.gethostname()}_{secrets.token_hex(4)}"


def leader_elector(settings: Settings) -> LeaderElector:
    from forwarder.coordination.leader import LeaderElector, LeaseTimings
    from forwarder.retry import Backoff
    from forwarder.settings.shards import shard_lease_name

    identity = replica_identity(settings)
    return LeaderElector(
        kubernetes_api(settings, identity),
        shard_lease_name(settings.lease_name, settings.shards, settings.ordinal() or 0),
        identity,
        LeaseTimings(settings.lease_duration, settings.lease_renew_deadline, settings.lease_retry_period),
        backoff=Backoff(settings.retry_initial_delay, settings.retry_max_delay),
    )


__all__ = ["kubernetes_api", "leader_elector", "replica_identity"]
