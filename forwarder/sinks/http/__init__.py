"""Generic HTTP sink: NDJSON or a JSON array POSTed to any intake, with presets for Datadog logs
intake v2, Sumo Logic HTTP sources and Logstash/Vector http inputs.

The anatomy of every HTTP sink (CONTRIBUTING.md, "Adding a sink"): ``settings`` (the
``FORWARDER_HTTP__*`` variables) with ``presets`` (the receivers' documented limits), ``encoder``
(request bodies), ``request`` (headers, authentication, compression, the pooled client),
``classifier`` (a pure verdict per status) and ``sink`` (what to do with each).
"""

from forwarder.sinks.http.settings import HttpSettings
from forwarder.sinks.http.sink import HttpSink

__all__ = ["HttpSettings", "HttpSink"]
