"""Elasticsearch / OpenSearch sink: `_bulk` NDJSON into data streams or indices, exactly once by id.

The anatomy of every HTTP sink (CONTRIBUTING.md, "Adding a sink"): ``settings`` (the env vars),
``encoder`` (NDJSON action and source lines), ``request`` (credentials, the pooled client, `_bulk`
headers), ``classifier`` (a pure verdict per answer and per item) and ``sink`` (what to do with each
verdict); and, for roles of their own, ``cloud_id`` (Elastic Cloud IDs), ``template`` (the bootstrap
index template) and ``probe`` (what `check` asks the cluster).
"""

from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings
from forwarder.sinks.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSettings", "ElasticsearchSink"]
