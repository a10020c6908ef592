"""`check`: can this sink reach the cluster, authenticate, and write where it is told to?

Every step degrades gracefully: an API a cluster lacks (OpenSearch has no
``_security/user/_has_privileges``; a key may not read templates) is noted as "not verified"
rather than failing the check, because `_bulk` itself may still work.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from forwarder.records import LogType
from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.elasticsearch.request import request
from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings, env_var

logger = logging.getLogger(__name__)


def _targets(settings: ElasticsearchSettings) -> list[str]:
    return settings.checked_targets()


def _target_variable(settings: ElasticsearchSettings, name: str) -> str:
    owner = next(log_type for log_type in LogType if settings.target_for(log_type) == name)
    return env_var(f"target_{owner.value}")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def pattern_matches(pattern: str, name: str) -> bool:
    """Index template patterns know only ``*``."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), name) is not None


def winning_template(templates: list[Any], name: str) -> Mapping[str, Any] | None:
    """The composable template Elasticsearch would apply to a new ``name``: highest priority wins."""
    best: Mapping[str, Any] | None = None
    for entry in templates:
        template = entry.get("index_template", {}) if isinstance(entry, Mapping) else {}
        patterns = template.get("index_patterns", [])
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if any(pattern_matches(pattern, name) for pattern in patterns) and (
            best is None or template.get("priority", 0) > best.get("priority", 0)
        ):
            best = template
    return best


async def check_cluster(client: httpx.AsyncClient, settings: ElasticsearchSettings) -> list[str]:
    """Raise what stops this sink; return what could not be verified, for the person to read."""
    notes: list[str] = []
    await _check_reachable(client, settings)
    may_create = await _check_privileges(client, settings, notes)
    for name in _targets(settings):
        await _check_target(client, settings, name, may_create.get(name, True), notes)
    for note in notes:
        logger.info("elasticsearch check: %s", note)
    return notes


async def _check_reachable(client: httpx.AsyncClient, settings: ElasticsearchSettings) -> None:
    response = await request(client, settings, "GET", "/")
    status = response.status_code
    if status == 401:
        raise SinkConfigError(
            f"{settings.base_url()} refused the credentials (401); check {settings.auth_variables()}"
        )
    # 403: a key limited to writing may not read cluster info, which is fine for us.
    if status in (200, 403):
        return
    if status in (408, 429) or status >= 500:
        raise RetryableError(
            f"{settings.base_url()} answered HTTP {status}; it may be starting or overloaded"
        )
    raise SinkConfigError(
        f"{settings.base_url()} does not answer like Elasticsearch or OpenSearch (HTTP {status}); "
        f"check {env_var('url')}"
    )


async def _check_privileges(
    client: httpx.AsyncClient, settings: ElasticsearchSettings, notes: list[str]
) -> dict[str, bool]:
    """Fail on a missing right to write; return, per target, whether it may be created."""
    write = "create_doc" if settings.target_type == "data_stream" else "index"
    query: dict[str, Any] = {
        "index": [{"names": _targets(settings), "privileges": [write, "auto_configure"]}]
    }
    if settings.bootstrap_template:
        query["cluster"] = ["manage_index_templates"]
    response = await request(client, settings, "POST", "/_security/user/_has_privileges", json=query)
    answer = _json(response)
    if response.status_code == 401:
        raise SinkConfigError(f"the cluster refused the credentials (401); check {settings.auth_variables()}")
    if response.status_code != 200 or not isinstance(answer, Mapping):
        notes.append(
            f"privileges not verified: `_security/user/_has_privileges` answered HTTP {response.status_code} "
            "(OpenSearch, or security disabled)"
        )
        return {}
    problems: list[str] = []
    may_create: dict[str, bool] = {}
    for name, granted in (answer.get("index") or {}).items():
        if not granted.get(write, False):
            problems.append(f"`{write}` on {name} ({_target_variable(settings, name)})")
        may_create[name] = bool(granted.get("auto_configure", False))
    if settings.bootstrap_template and not (answer.get("cluster") or {}).get("manage_index_templates", False):
        problems.append(f"the `manage_index_templates` cluster privilege ({env_var('bootstrap_template')})")
    if problems:
        user = answer.get("username", "these credentials")
        raise SinkConfigError(
            f"{user} ({settings.auth_variables()}) lacks "
            + "; ".join(problems)
            + ": grant it or change the setting"
        )
    return may_create


async def _check_target(
    client: httpx.AsyncClient, settings: ElasticsearchSettings, name: str, may_create: bool, notes: list[str]
) -> None:
    variable = _target_variable(settings, name)
    if settings.target_type == "index":
        response = await request(client, settings, "HEAD", f"/{name}")
        if response.status_code == 404:
            notes.append(f"index {name} does not exist yet; the first write creates it if the cluster allows")
        return
    response = await request(client, settings, "GET", f"/_data_stream/{name}")
    if response.status_code == 200:
        return
    if response.status_code != 404:
        notes.append(f"data stream {name} not verified (HTTP {response.status_code})")
        return
    if not may_create:
        raise SinkConfigError(
            f"data stream {name} ({variable}) does not exist and the credentials may not create it: "
            "grant `auto_configure` on it, or create it"
        )
    if settings.bootstrap_template:
        notes.append(f"data stream {name} will be created by the first write, from the bootstrap template")
        return
    templates = await request(client, settings, "GET", "/_index_template")
    listing = _json(templates)
    if templates.status_code != 200 or not isinstance(listing, Mapping):
        notes.append(f"index templates not readable (HTTP {templates.status_code}); {name} not verified")
        return
    winner = winning_template(listing.get("index_templates", []), name)
    if winner is None or "data_stream" not in winner:
        raise SinkConfigError(
            f"data stream {name} ({variable}) does not exist and no index template with `data_stream` "
            f"matches it, so writes would fail or make a plain index: set {env_var('bootstrap_template')}"
            "=true, or create such a template"
        )
