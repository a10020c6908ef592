"""Elasticsearch / OpenSearch sink: `_bulk` NDJSON into data streams or indices, exactly once by id."""

from forwarder.sinks.elasticsearch.settings import ElasticsearchSettings
from forwarder.sinks.elasticsearch.sink import ElasticsearchSink

__all__ = ["ElasticsearchSettings", "ElasticsearchSink"]
