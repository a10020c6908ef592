"""A protocol-faithful stand-in for Elasticsearch (and OpenSearch) `_bulk`, on 127.0.0.1.

It follows the documented behaviour our sink relies on, including the error answers:

* strict NDJSON: the body must end in a newline; action and source lines come in pairs; a
  malformed action line, or an `_id` over 512 bytes, fails the whole request with 400;
* ``create`` answers 409 ``version_conflict_engine_exception`` for an `_id` already there;
  ``index`` into a data stream is refused; a data stream document needs ``@timestamp``;
* a new target becomes a data stream when the highest-priority index template matching it has
  ``data_stream`` (Elasticsearch has a built-in ``logs-*-*`` one, OpenSearch none), else a plain
  index if auto-creation is on, else 404 ``index_not_found_exception``; names follow the rules;
* typed fields (``field_types``) refuse values of the wrong type with 400 parsing errors;
* requests above ``max_content_length`` (after gzip decoding, as Netty aggregates) get 413;
* ApiKey, basic and bearer credentials are checked; `_has_privileges` answers from ``writable``;
* faults on demand: whole-request statuses, connection resets before or after the writes, and
  partial failures (429, 5xx or 400 items) inside an HTTP 200.

Run ``python -m fakes.elasticsearch --port 9200`` to serve it alone (the benchmark does).

``server`` holds the HTTP side, ``bulk`` the NDJSON body, ``indices`` where writes go and what each
item answers, ``faults`` what can be injected.
"""

from fakes.elasticsearch.bulk import MAX_ID_BYTES
from fakes.elasticsearch.faults import DelayFault, Fault, ItemFault, ResetFault, WholeFault
from fakes.elasticsearch.indices import Flavor, Target, name_problem
from fakes.elasticsearch.server import BulkRecord, FakeElasticsearch

__all__ = [
    "MAX_ID_BYTES",
    "BulkRecord",
    "DelayFault",
    "FakeElasticsearch",
    "Fault",
    "Flavor",
    "ItemFault",
    "ResetFault",
    "Target",
    "WholeFault",
    "name_problem",
]
