"""Bootstrap: the index template for our targets, with ECS types for the fields we emit.

Off by default: on Elasticsearch the built-in ``logs-*-*`` template already makes our default
targets data streams with ECS dynamic mappings. The bootstrap is for OpenSearch (no built-in
template, so no data stream without one) and for clusters that want exact types without
installing an integration. It is installed only when missing, never overwritten: a person may
have tuned it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from forwarder import __version__
from forwarder.records import LogType
from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.elasticsearch.classifier import describe_error
from forwarder.sinks.elasticsearch.request import request
from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings, env_var

logger = logging.getLogger(__name__)

_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
_IP: dict[str, Any] = {"type": "ip"}
_DATE: dict[str, Any] = {"type": "date"}
_LONG: dict[str, Any] = {"type": "long"}

# ECS field -> type, for the fields forwarder.formats.ecs emits (ECS 8/9 types, with `keyword`
# where ECS says `wildcard` or `match_only_text`, which OpenSearch lacks).
ECS_FIELDS: Mapping[str, Mapping[str, Any]] = {
    "@timestamp": _DATE,
    "ecs.version": _KEYWORD,
    "tags": _KEYWORD,
    "event.kind": _KEYWORD,
    "event.category": _KEYWORD,
    "event.type": _KEYWORD,
    "event.action": _KEYWORD,
    "event.outcome": _KEYWORD,
    "event.dataset": _KEYWORD,
    "event.module": _KEYWORD,
    "event.provider": _KEYWORD,
    "event.id": _KEYWORD,
    "event.code": _KEYWORD,
    "event.reason": _KEYWORD,
    "event.created": _DATE,
    "event.ingested": _DATE,
    "event.start": _DATE,
    "event.end": _DATE,
    "event.original": {"type": "keyword", "index": False, "doc_values": False},
    "user.id": _KEYWORD,
    "user.name": _KEYWORD,
    "user.email": _KEYWORD,
    "user.full_name": _KEYWORD,
    "user.domain": _KEYWORD,
    "user.roles": _KEYWORD,
    "user.target.id": _KEYWORD,
    "user.target.name": _KEYWORD,
    "user.target.email": _KEYWORD,
    "user.target.full_name": _KEYWORD,
    "user.target.group.id": _KEYWORD,
    "user.target.group.name": _KEYWORD,
    "group.id": _KEYWORD,
    "group.name": _KEYWORD,
    "source.ip": _IP,
    "source.address": _KEYWORD,
    "source.port": _LONG,
    "source.geo.country_iso_code": _KEYWORD,
    "source.as.number": _LONG,
    "client.ip": _IP,
    "client.address": _KEYWORD,
    "url.full": _KEYWORD,
    "url.original": _KEYWORD,
    "url.domain": _KEYWORD,
    "url.path": _KEYWORD,
    "url.scheme": _KEYWORD,
    "url.query": _KEYWORD,
    "url.port": _LONG,
    "http.request.method": _KEYWORD,
    "http.request.id": _KEYWORD,
    "http.request.body.bytes": _LONG,
    # ECS: wildcard with a text multi-field; SCIM bodies are searched for words, so keep the text.
    "http.request.body.content": {**_KEYWORD, "fields": {"text": {"type": "text"}}},
    "error.message": {"type": "text"},
    # ECS: match_only_text; an audit log's description ("Add Member") is searched for words.
    "message": {"type": "text"},
    "entity.target.id": _KEYWORD,
    "entity.target.sub_type": _KEYWORD,
    "http.response.status_code": _LONG,
    "user_agent.original": _KEYWORD,
    "host.name": _KEYWORD,
    "cloud.provider": _KEYWORD,
    "cloud.account.id": _KEYWORD,
    "cloud.account.name": _KEYWORD,
    "cloud.service.name": _KEYWORD,
    "observer.vendor": _KEYWORD,
    "observer.product": _KEYWORD,
    "observer.type": _KEYWORD,
    "organization.id": _KEYWORD,
    "organization.name": _KEYWORD,
    "rule.id": _KEYWORD,
    "rule.name": _KEYWORD,
    "related.ip": _IP,
    "related.user": _KEYWORD,
    "related.hosts": _KEYWORD,
    "data_stream.type": _KEYWORD,
    "data_stream.dataset": _KEYWORD,
    "data_stream.namespace": _KEYWORD,
}


def _nest(fields: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Dotted names to the nested ``properties`` a mapping is written in."""
    properties: dict[str, Any] = {}
    for dotted, mapping in fields.items():
        *parents, leaf = dotted.split(".")
        level = properties
        for parent in parents:
            level = level.setdefault(parent, {"properties": {}})["properties"]
        level[leaf] = dict(mapping)
    return properties


def vendor_mapping(distribution: str, version: str) -> dict[str, Any]:
    """``cloudflare.*`` holds every field the API sends, typed or not: one leaf type per field.

    ``flattened`` (Elasticsearch 7.3+) and ``flat_object`` (OpenSearch 2.7+) index all leaves as
    keywords, so a field that is a string in one record and an object in the next cannot make a
    document fail to map. Older clusters get a plain object.
    """
    major_minor = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if distribution == "opensearch":
        return {"type": "flat_object"} if major_minor >= (2, 7) else {"type": "object"}
    return {"type": "flattened"} if major_minor >= (7, 3) else {"type": "object"}


def template_body(settings: ElasticsearchSettings, distribution: str, version: str) -> dict[str, Any]:
    """The composable index template (``PUT _index_template/<name>``) for the configured targets."""
    properties = _nest(ECS_FIELDS)
    properties["message"] = {"type": "text"}
    properties["cloudflare"] = vendor_mapping(distribution, version)
    body: dict[str, Any] = {
        "index_patterns": sorted({settings.target_for(log_type) for log_type in LogType}),
        "priority": settings.template_priority,
        "template": {
            "mappings": {
                # ECS stores strings as keywords; the default text + keyword doubles the index.
                "dynamic_templates": [
                    {"strings_as_keyword": {"match_mapping_type": "string", "mapping": _KEYWORD}}
                ],
                "properties": properties,
            }
        },
        "_meta": {"managed_by": "cloudflare-siem-forwarder", "version": __version__},
    }
    if settings.target_type == "data_stream":
        body["data_stream"] = {}
    if settings.template_composed_of:
        body["composed_of"] = list(settings.template_composed_of)
    return body


async def server_identity(client: httpx.AsyncClient, settings: ElasticsearchSettings) -> tuple[str, str]:
    """(distribution, version) from ``GET /``: ``elasticsearch`` unless OpenSearch says otherwise."""
    response = await request(client, settings, "GET", "/")
    if response.status_code != 200:
        return "elasticsearch", "0"
    try:
        version = response.json().get("version", {})
    except ValueError:
        return "elasticsearch", "0"
    return str(version.get("distribution", "elasticsearch")), str(version.get("number", "0"))


async def ensure_template(client: httpx.AsyncClient, settings: ElasticsearchSettings) -> bool:
    """Install the template if there is none of that name; True if it was installed now."""
    path = f"/_index_template/{settings.template_name}"
    found = await request(client, settings, "GET", path)
    if found.status_code == 200:
        return False
    if found.status_code != 404:
        _raise_for(found, settings, "read the index template")
    distribution, version = await server_identity(client, settings)
    body = template_body(settings, distribution, version)
    # create=true: if another replica installed it meanwhile, keep theirs rather than overwrite.
    put = await request(client, settings, "PUT", path, params={"create": "true"}, json=body)
    if put.status_code == 200:
        logger.info("installed index template %s for %s", settings.template_name, body["index_patterns"])
        return True
    if put.status_code == 400 and b"already exists" in put.content:
        return False
    _raise_for(put, settings, "install the index template")
    return False  # unreachable: _raise_for always raises


def _raise_for(response: httpx.Response, settings: ElasticsearchSettings, doing: str) -> None:
    try:
        detail = describe_error(response.json().get("error"))
    except ValueError:
        detail = response.text[:200]
    status = response.status_code
    if status in (408, 429) or status >= 500:
        raise RetryableError(f"could not {doing}: HTTP {status} {detail}")
    if status in (401, 403):
        raise SinkConfigError(
            f"could not {doing} ({status} {detail}): the credentials in {settings.auth_variables()} need the "
            f"`manage_index_templates` cluster privilege, or set {env_var('bootstrap_template')}=false"
        )
    raise SinkConfigError(
        f"could not {doing} ({status} {detail}); check {env_var('template_name')}, "
        f"{env_var('template_priority')} and {env_var('template_composed_of')}"
    )
