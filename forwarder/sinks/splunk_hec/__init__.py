"""Splunk HTTP Event Collector sink, with response-code-aware delivery and indexer acknowledgement.

Split the way Vector splits its sinks: ``settings`` (the env vars), ``encoder`` (HEC event objects),
``request`` (TLS, the pooled client, compression), ``classifier`` (a pure verdict per answer),
``acks`` (indexer acknowledgement) and ``sink`` (what to do with each verdict).
"""

from forwarder.sinks.splunk_hec.settings import SplunkHecSettings
from forwarder.sinks.splunk_hec.sink import SplunkHecSink

__all__ = ["SplunkHecSettings", "SplunkHecSink"]
