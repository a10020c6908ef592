"""Settings of the `kubernetes` checkpoint store, leader election and sharding (a mixin of Settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from forwarder.config_sources import EnvironmentSettings
from forwarder.settings.leases import LeaseTimings
from forwarder.settings.shards import ordinal_from_pod_name
from forwarder.settings.values import Seconds, seconds


class KubernetesSettings(EnvironmentSettings):
    kubernetes_configmap: str = Field(
        default="cloudflare-siem-forwarder-checkpoints",
        validation_alias="FORWARDER_KUBERNETES_CONFIGMAP",
        description="ConfigMap of the `kubernetes` checkpoint store; the forwarder creates it on its first "
        "commit. Replicas and shards of one installation share it.",
    )
    kubernetes_namespace: str = Field(
        default="",
        validation_alias="FORWARDER_KUBERNETES_NAMESPACE",
        description="Namespace of the ConfigMap and the Lease. Empty: the pod's own namespace.",
    )
    kubernetes_api_url: str = Field(
        default="",
        validation_alias="FORWARDER_KUBERNETES_API_URL",
        description="URL of the Kubernetes API. Empty: in-cluster, from KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT.",
    )
    kubernetes_service_account_dir: Path = Field(
        default=Path("/var/run/secrets/kubernetes.io/serviceaccount"),
        validation_alias="FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR",
        description="Directory of the service-account `token`, `ca.crt` and `namespace` files.",
    )
    kubernetes_request_timeout: Seconds = Field(
        default=5.0,
        validation_alias="FORWARDER_KUBERNETES_REQUEST_TIMEOUT",
        description="Seconds before a Kubernetes API request (the checkpoint ConfigMap, the Lease) times "
        "out and is retried. With leader election it must be shorter than FORWARDER_LEASE_RENEW_DEADLINE "
        "(a renewal is also cut off at that deadline), and when not set it is 5 or half the renew "
        "deadline, whichever is less.",
    )
    pod_name: str = Field(
        default="",
        validation_alias="FORWARDER_POD_NAME",
        description="This pod's name: the Lease holder identity (with a random suffix) and, with sharding, "
        "the StatefulSet ordinal at its end. Empty: the HOSTNAME variable, which Kubernetes sets to it.",
    )
    leader_election: bool = Field(
        default=False,
        validation_alias="FORWARDER_LEADER_ELECTION",
        description="`true`: replicas campaign for a Lease and only its holder reads streams (the others "
        "wait to take over). Needs FORWARDER_CHECKPOINT_STORE=kubernetes.",
    )
    lease_name: str = Field(
        default="cloudflare-siem-forwarder",
        validation_alias="FORWARDER_LEASE_NAME",
        description="Name of the Lease (`coordination.k8s.io/v1`); with sharding, `<name>-<ordinal>` "
        "per shard.",
    )
    lease_duration: Seconds = Field(
        default=15.0,
        validation_alias="FORWARDER_LEASE_DURATION",
        description="Seconds a Lease that is not renewed stays with its holder; a standby takes over "
        "after it. Written to the Lease in whole seconds (rounded up).",
    )
    lease_renew_deadline: Seconds = Field(
        default=10.0,
        validation_alias="FORWARDER_LEASE_RENEW_DEADLINE",
        description="Seconds after its last renewal at which a leader that cannot renew (the API does not "
        "answer it) stops reading. Shorter than FORWARDER_LEASE_DURATION: it stops before anyone takes over.",
    )
    lease_retry_period: Seconds = Field(
        default=2.0,
        validation_alias="FORWARDER_LEASE_RETRY_PERIOD",
        description="Seconds between renewals, and between a standby's attempts to acquire.",
    )
    shards: int = Field(
        default=1,
        ge=1,
        validation_alias="FORWARDER_SHARDS",
        description="Number of shards (StatefulSet replicas) the accounts are spread over: shard `n` reads "
        "the accounts whose position in FORWARDER_ACCOUNT_IDS modulo this is `n`, under its own Lease. "
        "Needs FORWARDER_LEADER_ELECTION=true.",
    )
    shard_ordinal: int | None = Field(
        default=None,
        ge=0,
        validation_alias="FORWARDER_SHARD_ORDINAL",
        description="This replica's shard. Empty: the number at the end of the pod name "
        "(`forwarder-2` is 2).",
    )

    # Named apart from Settings' own validators: a subclass method of the same name would replace it.
    @field_validator(
        "lease_duration",
        "lease_renew_deadline",
        "lease_retry_period",
        "kubernetes_request_timeout",
        mode="before",
    )
    @classmethod
    def _kubernetes_durations(cls, value: Any) -> Any:
        return seconds(value)

    @model_validator(mode="after")
    def _lease_and_shards(self) -> KubernetesSettings:
        problems = []
        if self.leader_election:
            problems += LeaseTimings(
                self.lease_duration, self.lease_renew_deadline, self.lease_retry_period
            ).problems()
            problems += self._fit_request_timeout()
        if self.shards > 1:
            if not self.leader_election:
                problems.append("FORWARDER_SHARDS: needs FORWARDER_LEADER_ELECTION=true (a Lease per shard)")
            ordinal = self.ordinal()
            if ordinal is None:
                problems.append(
                    f"FORWARDER_SHARD_ORDINAL: not set, and the pod name {self.resolved_pod_name()!r} does "
                    "not end in -<number> (run the shards as a StatefulSet, or set it)"
                )
            elif ordinal >= self.shards:
                problems.append(
                    f"FORWARDER_SHARD_ORDINAL: {ordinal} is not below FORWARDER_SHARDS ({self.shards})"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _fit_request_timeout(self) -> list[str]:
        """A request that may outlast the renew deadline would let a hung call hold a term to its end.

        Only a value someone set is refused: left unset, it is the default or half the renew
        deadline, whichever is less, so that a short deadline (a test cluster's 2 s) needs no second
        setting and a renewal that timed out still has time for another try.
        """
        if "kubernetes_request_timeout" not in self.model_fields_set:
            fitted = min(self.kubernetes_request_timeout, self.lease_renew_deadline / 2)
            # The model is frozen; this runs while it is being built, before anyone can have read it.
            object.__setattr__(self, "kubernetes_request_timeout", fitted)
            return []
        if self.kubernetes_request_timeout < self.lease_renew_deadline:
            return []
        return [
            f"FORWARDER_KUBERNETES_REQUEST_TIMEOUT: must be shorter than FORWARDER_LEASE_RENEW_DEADLINE "
            f"({self.kubernetes_request_timeout:g} s is not below {self.lease_renew_deadline:g} s), so "
            "that a leader can retry a renewal that timed out before its deadline"
        ]

    def resolved_pod_name(self) -> str:
        return self.pod_name or os.environ.get("HOSTNAME", "")

    def ordinal(self) -> int | None:
        """This replica's shard, from FORWARDER_SHARD_ORDINAL or the StatefulSet pod name."""
        if self.shard_ordinal is not None:
            return self.shard_ordinal
        return ordinal_from_pod_name(self.resolved_pod_name())
