"""requests' adapter for the OTLP exporters, verifying https against the operating system's trust store.

Apart from :mod:`forwarder.telemetry.exporters` so that requests is imported only when an OTLP exporter
is configured.
"""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from forwarder.tls import system_trust_context


class SystemTrustAdapter(HTTPAdapter):
    """requests' adapter verifying https against the OS trust store instead of certifi's bundle."""

    def __init__(self) -> None:
        # One context for every connection of this adapter: truststore locks around its use.
        self._context = system_trust_context()
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        # A string is a CA file someone named (REQUESTS_CA_BUNDLE): requests loads it alone.
        if verify is True:
            pool_kwargs["ssl_context"] = self._context
        return host_params, pool_kwargs

    def cert_verify(
        self, conn: Any, url: str, verify: bool | str, cert: str | tuple[str, str] | None
    ) -> None:
        super().cert_verify(conn, url, verify, cert)
        if verify is True:
            # requests points every verified connection at certifi's file, which would be loaded
            # into the context on top of the OS store.
            conn.ca_certs = None
            conn.ca_cert_dir = None
