"""The few Kubernetes API calls the forwarder makes: get, create and replace one object.

Only ConfigMaps (checkpoints) and ``coordination.k8s.io/v1`` Leases (leader election) are used, so
this is a small client over httpx rather than the kubernetes library. In a pod it finds the API
server from ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` and authenticates with the
service-account token, trusting the service-account CA, both from
/var/run/secrets/kubernetes.io/serviceaccount/. The token file is re-read every minute: kubelet
rotates projected tokens in place.

Errors are sorted here, once, for every caller: transient ones (no answer, a timeout, a reset, 429
with its ``Retry-After``, 5xx) are worth retrying; those a person must fix (the token, an RBAC
rule, a namespace that does not exist, a name the API refuses) are
:class:`KubernetesConfigurationError` and name the setting or the rule to fix.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from forwarder import __version__
from forwarder.coordination.errors import KubernetesConfigurationError as KubernetesConfigurationError
from forwarder.coordination.errors import KubernetesError as KubernetesError
from forwarder.retry import retry_after

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REFRESH_SECONDS = 60.0

JsonObject = dict[str, Any]
# KubernetesError and KubernetesConfigurationError are defined in forwarder.coordination.errors (and
# re-exported here) so that the command line can name them without importing this client.


@dataclass(frozen=True)
class Kind:
    """Where objects of one kind live in the API, and the setting that names the forwarder's object."""

    group_version: str
    plural: str
    setting: str = ""

    @property
    def group(self) -> str:
        return "" if self.group_version == "v1" else self.group_version.split("/")[0]

    def collection(self, namespace: str) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        return f"{prefix}/namespaces/{namespace}/{self.plural}"

    def rbac_rule(self) -> str:
        """The Role rule the forwarder's service account needs, as a person writes it in YAML."""
        verbs = '["get", "create", "update"]'
        return f'apiGroups: ["{self.group}"], resources: ["{self.plural}"], verbs: {verbs}'


CONFIG_MAPS = Kind("v1", "configmaps", "FORWARDER_KUBERNETES_CONFIGMAP")
LEASES = Kind("coordination.k8s.io/v1", "leases", "FORWARDER_LEASE_NAME")


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach the API server and who we are to it."""

    base_url: str
    namespace: str
    token_path: Path | None
    ca_path: Path | None

    @classmethod
    def discover(
        cls,
        *,
        api_url: str = "",
        namespace: str = "",
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        environ: Mapping[str, str] | None = None,
    ) -> ClusterAccess:
        """The in-cluster defaults, each overridable (tests point at a fake API over plain HTTP)."""
        environ = os.environ if environ is None else environ
        problems = []
        if not api_url:
            host = environ.get("KUBERNETES_SERVICE_HOST", "")
            port = environ.get("KUBERNETES_SERVICE_PORT", "443")
            if host:
                api_url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
            else:
                problems.append(
                    "FORWARDER_KUBERNETES_API_URL: not set, and KUBERNETES_SERVICE_HOST is not set either "
                    "(not running in a pod?)"
                )
        if not namespace:
            try:
                namespace = (service_account_dir / "namespace").read_text().strip()
            except OSError:
                problems.append(
                    f"FORWARDER_KUBERNETES_NAMESPACE: not set, and {service_account_dir}/namespace "
                    "cannot be read"
                )
        token = service_account_dir / "token"
        if not token.exists():
            problems.append(
                f"FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR: no token in {service_account_dir} "
                "(is automountServiceAccountToken off?)"
            )
        if problems:
            raise KubernetesConfigurationError("\n".join(problems))
        ca = service_account_dir / "ca.crt"
        return cls(api_url.rstrip("/"), namespace, token, ca if ca.exists() else None)


class KubernetesApi:
    """get / create / replace of namespaced objects, with the API's ``Status`` errors as exceptions.

    ``timeout`` bounds every request (FORWARDER_KUBERNETES_REQUEST_TIMEOUT) unless a call passes a
    shorter ``request_timeout``; ``transport`` replaces the network (tests answer in-process).
    """

    def __init__(
        self,
        access: ClusterAccess,
        *,
        timeout: float = 5.0,
        identity: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.access = access
        self.namespace = access.namespace
        self.timeout = timeout
        self._token: str | None = None
        self._token_read = 0.0
        verify: ssl.SSLContext | bool = True
        if access.ca_path is not None and access.base_url.startswith("https:"):
            verify = ssl.create_default_context(cafile=str(access.ca_path))
        agent = f"cloudflare-siem-forwarder/{__version__}" + (f" ({identity})" if identity else "")
        self._http = httpx.AsyncClient(
            base_url=access.base_url,
            verify=verify,
            timeout=timeout,
            headers={"User-Agent": agent, "Accept": "application/json"},
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    def _authorization(self) -> dict[str, str]:
        if self.access.token_path is None:
            return {}
        now = time.monotonic()
        if self._token is None or now - self._token_read > TOKEN_REFRESH_SECONDS:
            try:
                self._token = self.access.token_path.read_text().strip()
            except OSError as error:
                if self._token is None:
                    raise KubernetesConfigurationError(
                        f"cannot read the service-account token {self.access.token_path}: {error}"
                    ) from error
            self._token_read = now
        return {"Authorization": f"Bearer {self._token}"}

    async def get(self, kind: Kind, name: str, *, request_timeout: float | None = None) -> JsonObject | None:
        """The object, or None when it does not exist."""
        try:
            return await self._request("GET", kind, f"/{name}", None, request_timeout)
        except KubernetesError as error:
            if error.status == 404:
                return None
            raise

    async def create(
        self, kind: Kind, body: JsonObject, *, request_timeout: float | None = None
    ) -> JsonObject:
        """Raises a conflict (409 AlreadyExists) when someone created it first."""
        return await self._request("POST", kind, "", body, request_timeout)

    async def replace(
        self, kind: Kind, name: str, body: JsonObject, *, request_timeout: float | None = None
    ) -> JsonObject:
        """PUT; with ``metadata.resourceVersion`` set, a conflict (409) when the object changed since."""
        return await self._request("PUT", kind, f"/{name}", body, request_timeout)

    async def _request(
        self, method: str, kind: Kind, suffix: str, body: JsonObject | None, request_timeout: float | None
    ) -> JsonObject:
        path = kind.collection(self.namespace) + suffix
        options: dict[str, Any] = {"headers": self._authorization()}
        if body is not None:
            options["json"] = body
        timeout = self.timeout if request_timeout is None else request_timeout
        options["timeout"] = timeout
        try:
            response = await self._http.request(method, path, **options)
        except httpx.TimeoutException as error:
            raise KubernetesError(
                f"{method} {path}: the Kubernetes API did not answer within {timeout:g} s "
                f"({type(error).__name__})"
            ) from error
        except httpx.HTTPError as error:
            raise KubernetesError(
                f"{method} {path}: the Kubernetes API did not answer: {type(error).__name__} {error}"
            ) from error
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        raise self._error(method, kind, path, response, data)

    def _error(
        self, method: str, kind: Kind, path: str, response: httpx.Response, data: Any
    ) -> KubernetesError:
        status = response.status_code
        status_object = data if isinstance(data, dict) else {}
        reason = str(status_object.get("reason", ""))
        message = str(status_object.get("message", "")) or f"HTTP {status}"
        text = f"{method} {path}: {status} {reason}: {message}".replace(": :", ":")
        hint = self._configuration_hint(method, kind, status, status_object)
        if hint:
            return KubernetesConfigurationError(f"{text} ({hint})", status=status, reason=reason)
        return KubernetesError(
            text, status=status, reason=reason, retry_after=retry_after(response.headers.get("Retry-After"))
        )

    def _configuration_hint(self, method: str, kind: Kind, status: int, status_object: JsonObject) -> str:
        """What a person must change, for the errors that asking again cannot fix; empty otherwise."""
        if status == 401:
            return (
                "the service-account token was not accepted; check FORWARDER_KUBERNETES_SERVICE_ACCOUNT_DIR "
                "and that the pod's service account still exists"
            )
        if status == 403:
            # The words a person needs: which rule the Role bound to the service account lacks.
            return (
                f"the service account lacks this permission; the Role bound to it in namespace "
                f"{self.namespace} needs the rule {kind.rbac_rule()}"
            )
        details = status_object.get("details")
        missing_kind = details.get("kind") if isinstance(details, dict) else None
        if status == 404 and (method == "POST" or missing_kind == "namespaces"):
            # Creating in a namespace that does not exist: the object's own 404 is an answer, not this.
            return (
                f"FORWARDER_KUBERNETES_NAMESPACE: the namespace {self.namespace!r} does not exist; set it "
                "to the namespace the forwarder runs in (empty: the pod's own)"
            )
        if status == 422:
            return (
                f"{kind.setting}: the API refused the object as invalid; fix what the message names (a "
                "name is lowercase letters, digits, '-' and '.', at most 253 characters)"
            )
        return ""
