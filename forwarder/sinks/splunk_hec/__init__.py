"""Splunk HTTP Event Collector sink, with response-code-aware delivery and indexer acknowledgement.

The anatomy of every HTTP sink (CONTRIBUTING.md, "Adding a sink"), split the way Vector splits its
sinks: ``settings`` (the env vars), ``encoder`` (HEC event objects), ``request`` (the paths, headers and
pooled client), ``classifier`` (a pure verdict per answer) and ``sink`` (what to do with each verdict);
and, for a role of its own, ``acks`` (indexer acknowledgement).
"""

from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.sinks.splunk_hec.sink import SplunkHecSink

__all__ = ["SplunkHecSettings", "SplunkHecSink"]
