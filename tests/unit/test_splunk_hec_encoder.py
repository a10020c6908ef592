"""HEC event objects: exact bytes, the time, and the document spliced in unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from forwarder.records import LogType
from forwarder.sinks.splunk_hec import SplunkHecSettings
from forwarder.sinks.splunk_hec.encoder import HecEncoder, epoch_seconds, join
from tests.support.splunk_hec_support import ACCOUNT, TOKEN, make_event, with_body


def settings(**values: object) -> SplunkHecSettings:
    return SplunkHecSettings(url="https://hec.example:8088", token=TOKEN, host="fw-1", **values)  # type: ignore[arg-type]


def test_exact_bytes_of_an_access_request() -> None:
    event = make_event(0)
    encoded = HecEncoder(settings()).encode(event)
    assert encoded == (
        b'{"time":1740830400.123456,"host":"fw-1",'
        b'"source":"cloudflare:' + ACCOUNT.encode() + b':access_requests",'
        b'"sourcetype":"cloudflare:access","event":' + event.body + b"}"
    )


def test_the_document_bytes_are_not_encoded_again() -> None:
    # Bytes orjson would never produce (spaces, key order) must come through untouched.
    body = b'{ "z": 1,  "a": [1, 2] }'
    encoded = HecEncoder(settings()).encode(with_body(make_event(1), body))
    assert encoded.endswith(b',"event":' + body + b"}")


def test_scim_defaults_and_per_log_type_index_and_fields() -> None:
    encoder = HecEncoder(
        settings(index_access_requests="cf_access", index_scim_updates="cf_scim", fields={"env": "prod"})
    )
    access = json.loads(encoder.encode(make_event(2)))
    scim = json.loads(encoder.encode(make_event(3, LogType.SCIM_UPDATES)))
    assert access["sourcetype"] == "cloudflare:access"
    assert access["index"] == "cf_access"
    assert scim["sourcetype"] == "cloudflare:access:scim"
    assert scim["index"] == "cf_scim"
    assert scim["source"] == f"cloudflare:{ACCOUNT}:scim_updates"
    assert access["fields"] == scim["fields"] == {"env": "prod"}


def test_audit_logs_have_their_own_sourcetype_and_index() -> None:
    encoder = HecEncoder(settings(index_audit_logs="cf_audit", index_scim_updates="cf_scim"))
    audit = json.loads(encoder.encode(make_event(4, LogType.AUDIT_LOGS)))
    assert audit["sourcetype"] == "cloudflare:audit"
    assert audit["index"] == "cf_audit"
    assert audit["source"] == f"cloudflare:{ACCOUNT}:audit_logs"


def test_configured_source_and_sourcetypes() -> None:
    encoder = HecEncoder(
        settings(source="cf", sourcetype_access_requests="cf:a", sourcetype_scim_updates="cf:s")
    )
    assert json.loads(encoder.encode(make_event(0)))["sourcetype"] == "cf:a"
    scim = json.loads(encoder.encode(make_event(0, LogType.SCIM_UPDATES)))
    assert (scim["source"], scim["sourcetype"]) == ("cf", "cf:s")


def test_no_index_means_the_token_default() -> None:
    assert "index" not in json.loads(HecEncoder(settings()).encode(make_event(0)))


def test_a_request_body_is_event_objects_one_per_line() -> None:
    encoder = HecEncoder(settings())
    events = [make_event(number) for number in range(3)]
    body = join(encoder.encode_all(events))
    lines = body.split(b"\n")
    assert [json.loads(line)["event"]["ray_id"] for line in lines] == ["ray000000", "ray000001", "ray000002"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_time_is_exact_to_the_microsecond(moment: datetime) -> None:
    delta = moment - _EPOCH
    exact = Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)
    written = epoch_seconds(moment)
    assert Decimal(written.decode()) == exact
    assert len(written.split(b".")[1]) == 6


def test_time_of_a_moment_before_the_epoch() -> None:
    assert epoch_seconds(_EPOCH - timedelta(microseconds=500_000)) == b"-0.500000"
