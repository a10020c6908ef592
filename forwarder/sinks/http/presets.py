"""What the documented receivers of the generic HTTP sink take: their limits, encodings and headers.

Each preset only changes defaults (and refuses a setting above a documented limit); every value can
be set by hand for a receiver without a preset. Sources, cited in docs/sinks/http.md:

* Datadog logs intake v2 (``POST /api/v2/logs``, "Send logs"): a JSON array of at most 1000 entries,
  at most 5 MB uncompressed per request, at most 1 MB per log (a larger log is *truncated* and still
  answered 2xx, so the sink dead-letters it whole instead), the key in ``DD-API-KEY``; 202 on
  success; 408, 429, 500 and 503 to be retried.
* Sumo Logic HTTP Logs and Metrics Source: batches up to but not exceeding 1 MB uncompressed; the
  source's URL carries its token; 429 (throttling), 503 and 504 to be retried; 408 means "accepted,
  but timed out processing" (retried: at least once).
* Logstash ``http`` input: ``application/json`` goes to the json codec, which makes each element of an
  array an event; 429 when Logstash is backlogged ("clients should sleep ... then retry").
* Vector ``http_server`` source: newline-delimited JSON with ``decoding.codec = "json"`` and
  ``framing.method = "newline_delimited"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["ndjson", "json_array"]
PresetName = Literal["none", "datadog", "sumo_logic", "logstash", "vector"]


@dataclass(frozen=True, slots=True)
class Preset:
    encoding: Encoding
    # The receiver's documented limits; None where it documents none.
    max_events: int | None = None
    max_bytes: int | None = None
    max_event_bytes: int | None = None
    # Where ``API_KEY`` goes when the person does not say.
    api_key_header: str = "X-API-Key"
    default_url: str | None = None


PRESETS: Mapping[PresetName, Preset] = {
    "none": Preset("ndjson"),
    "datadog": Preset(
        "json_array",
        max_events=1000,
        max_bytes=5_000_000,
        max_event_bytes=1_000_000,
        api_key_header="DD-API-KEY",
        default_url="https://http-intake.logs.datadoghq.com/api/v2/logs",
    ),
    "sumo_logic": Preset("ndjson", max_bytes=1_000_000),
    "logstash": Preset("json_array"),
    "vector": Preset("ndjson"),
}
