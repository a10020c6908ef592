"""The Kubernetes API's errors, apart from its client: the command line maps them to exit codes
without importing the client (a `once` without Kubernetes never loads it)."""

from __future__ import annotations


class KubernetesError(Exception):
    """The API answered with an error ``Status``, or could not be reached."""

    def __init__(
        self, message: str, *, status: int | None = None, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        # Read by forwarder.retry.Backoff: the server's own idea of when to ask again (429, 503).
        self.retry_after = retry_after

    @property
    def conflict(self) -> bool:
        """Someone else wrote the object since we read it (or created it first)."""
        return self.status == 409

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def retryable(self) -> bool:
        """Transient: no answer (a timeout, a reset, a refused connection), throttling (429), or
        the API server's own troubles (5xx). Worth trying again after a pause."""
        return self.status is None or self.status == 429 or self.status >= 500


class KubernetesConfigurationError(KubernetesError):
    """A person must fix something: no API server, no token, or a missing RBAC permission."""
