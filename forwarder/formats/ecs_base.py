"""The part of an ECS document every log type shares: times, event ids, dataset, observer, account."""

from __future__ import annotations

from typing import Any

from forwarder.formats.known_fields import PRODUCT, VENDOR
from forwarder.formats.values import iso_timestamp_from, observed_iso_timestamp
from forwarder.records import Record, time_value

ECS_VERSION = "9.4.0"


# `time` when the caller has not looked it up: base_document does.
_LOOK_UP: Any = object()


def base_document(
    record: Record,
    category: str,
    dataset: str,
    provider: str = "cloudflare_access",
    time: Any = _LOOK_UP,
) -> dict[str, Any]:
    """What every ECS document of this forwarder has: times, ids, dataset, observer, account.

    ``time`` is the record's time as the API wrote it (``records.time_value``), for a caller that has
    it at hand: once per event, the lookup costs more than passing it."""
    timestamp = record.timestamp
    created = observed_iso_timestamp(record.observed)
    if timestamp is not None and time is _LOOK_UP:
        time = time_value(record.log_type, record.data)
    document: dict[str, Any] = {
        "@timestamp": (created if timestamp is None else iso_timestamp_from(time, timestamp)),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "event",
            "category": [category],
            "id": record.event_id,
            # When this forwarder first read the event (ECS event.created); event.ingested is left
            # to the data store, whose ingest pipeline sets it.
            "created": created,
            "module": "cloudflare",
            "dataset": dataset,
            "provider": provider,
        },
        "observer": {"vendor": VENDOR, "product": PRODUCT},
    }
    if record.account_id:
        document["cloud"] = {"provider": "cloudflare", "account": {"id": record.account_id}}
    return document
