"""Microsoft Sentinel sink: rows to the Azure Monitor Logs Ingestion API, with Entra ID credentials.

The anatomy of every HTTP sink (CONTRIBUTING.md, "Adding a sink"): ``settings`` (the env vars), ``encoder``
(the JSON array of rows), ``request`` (the path, headers and pooled client), ``classifier`` (a pure verdict
per answer) and ``sink`` (what to do with each verdict); and, for a role of its own, ``credentials`` (Entra
ID tokens through azure-identity). The rows are in the ``asim`` format by default
(``forwarder/formats/asim.py``), for the tables ``deploy/sentinel/azuredeploy.json`` creates.
"""

from forwarder.sinks.sentinel.settings import SentinelSettings
from forwarder.sinks.sentinel.sink import SentinelSink

__all__ = ["SentinelSettings", "SentinelSink"]
