"""Which identity providers of an account have SCIM enabled: the SCIM log endpoint needs their ids.

Configured ids are used as they are. Otherwise the list is read from the API and re-read every
``refresh_interval`` seconds, so an IdP that gets SCIM later is picked up without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from forwarder.source.client import CloudflareClient

# The identity provider list pages like every v4 list; 50 pages of 100 is far beyond any account.
PAGE_SIZE = 100
MAX_PAGES = 50


async def list_scim_idp_ids(client: CloudflareClient, account_id: str) -> list[str]:
    found: list[str] = []
    for page in range(1, MAX_PAGES + 1):
        envelope = await client.get(
            f"/accounts/{account_id}/access/identity_providers",
            [("page", page), ("per_page", PAGE_SIZE)],
            operation="identity_providers",
            account_id=account_id,
        )
        items = [item for item in envelope.result or [] if isinstance(item, dict)]
        for item in items:
            scim = item.get("scim_config")
            if isinstance(scim, dict) and scim.get("enabled") is True and isinstance(item.get("id"), str):
                found.append(item["id"])
        total_pages = envelope.result_info.get("total_pages")
        if (isinstance(total_pages, int | float) and page >= total_pages) or len(items) < PAGE_SIZE:
            break
    return found


class ScimIdentityProviders:
    """The SCIM-enabled IdP ids of one account, configured or discovered and refreshed."""

    def __init__(
        self,
        client: CloudflareClient,
        account_id: str,
        configured: Sequence[str],
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.configured = list(configured)
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._ids: list[str] | None = None
        self._read_at = 0.0

    async def ids(self) -> list[str]:
        if self.configured:
            return self.configured
        if self._ids is None or self._clock() - self._read_at >= self.refresh_interval:
            self._ids = await list_scim_idp_ids(self.client, self.account_id)
            self._read_at = self._clock()
        return self._ids
