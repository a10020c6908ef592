"""The syslog sink against real rsyslog and real syslog-ng: what each parsed equals what was sent.

Each receiver runs once for this module on free 127.0.0.1 ports with its own UDP, TCP (octet
counting and LF), TLS and mutual-TLS inputs; each test finds its own messages by event id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme

from forwarder.formats import encoder_for, to_raw
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event, SinkConfigError
from forwarder.sinks.syslog import SyslogSettings, SyslogSink
from forwarder.sinks.syslog.message import BOM
from tests.receivers.common import Received, Receiver
from tests.receivers.rsyslog import start_rsyslog
from tests.receivers.syslog_ng import start_syslog_ng
from tests.support.syslog_parsers import parse_cef, parse_leef

pytestmark = pytest.mark.integration

# Characters each layer must escape or carry: SD's ] " \, CEF's = | \, LEEF's ^, and non-ASCII.
TRICKY = 'Zoë "Q" [x] \\ a=b | c^d 東京 🔐'


@pytest.fixture(scope="module", params=["rsyslog", "syslog-ng"])
def receiver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    folder = tmp_path_factory.mktemp(request.param)
    started = start_rsyslog(folder) if request.param == "rsyslog" else start_syslog_ng(folder)
    yield started
    started.stop()


def access_event(**overrides: Any) -> Event:
    data: dict[str, Any] = {
        "user_email": f"{TRICKY}@example.com",
        "ip_address": "198.51.100.23",
        "app_uid": str(uuid.uuid4()),
        "app_domain": "app.example.com/admin]",
        "action": "login",
        "connection": "okta",
        "allowed": False,
        "created_at": "2024-06-07T08:09:10.123456Z",
        "ray_id": uuid.uuid4().hex[:16],
    }
    data.update(overrides)
    return make_event(LogType.ACCESS_REQUESTS, data)


def scim_event(**overrides: Any) -> Event:
    data: dict[str, Any] = {
        "cf_resource_id": str(uuid.uuid4()),
        "error_description": None,
        "idp_id": "idp-1",
        "idp_resource_id": "res\\1",
        "logged_at": "2024-06-07T08:09:11.5Z",
        "request_body": '{"op": "replace", "value": "' + TRICKY + '"}',
        "request_method": "PATCH",
        "resource_group_name": None,
        "resource_type": "USER",
        "resource_user_email": "ann@example.com",
        "status": "SUCCESS",
    }
    data.update(overrides)
    return make_event(LogType.SCIM_UPDATES, data)


def make_event(log_type: LogType, data: dict[str, Any]) -> Event:
    record = make_record(log_type, "0123456789abcdef0123456789abcdef", data, observed=datetime.now(UTC))
    document = to_raw(record)
    return Event(record=record, body=orjson.dumps(document))


def encoded_for(sink: SyslogSink, event: Event) -> Event:
    """The event as the pipeline hands it to ``sink``: encoded once, in the sink's format."""
    return Event(event.record, encoder_for(sink.format)(event.record))


def sink_for(receiver: Receiver, input_name: str, **settings: Any) -> SyslogSink:
    transport = "udp" if input_name.startswith("udp") else "tls" if input_name.startswith("tls") else "tcp"
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": receiver.ports[input_name],
        "transport": transport,
        "hostname": "forwarder-1.example",
        "tls_ca_file": str(receiver.certificates.ca),
        "tls_server_name": "localhost",
    }
    if input_name == "tls_mutual":
        values["tls_cert_file"] = str(receiver.certificates.client_cert)
        values["tls_key_file"] = str(receiver.certificates.client_key)
    if input_name == "tcp_lf":
        values["framing"] = "lf"
    values.update(settings)
    return SyslogSink(SyslogSettings(**values))


async def deliver(sink: SyslogSink, events: list[Event]) -> None:
    try:
        result = await sink.send(events)
    finally:
        await sink.close()
    assert result.rejected == []
    assert result.retry == []


def by_event_id(receiver: Receiver, events: list[Event]) -> dict[str, Received]:
    wanted = {event.event_id for event in events}
    found = receiver.wait_for(
        lambda message: message.structured_data.get("cloudflare@32473", {}).get("event_id") in wanted,
        count=len(wanted),
    )
    return {message.structured_data["cloudflare@32473"]["event_id"]: message for message in found}


def expected_structured_data(event: Event) -> dict[str, str]:
    data = event.record.data
    params = {
        "event_id": event.event_id,
        "log_type": event.log_type.value,
        "account_id": event.record.account_id,
    }
    for name, value in data.items():
        if name in {"created_at", "logged_at", "request_body"} or value is None:
            continue
        params[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return params


def without_bom(text: str) -> str:
    return text.removeprefix(BOM.decode())


def assert_header(message: Received, event: Event, sink: SyslogSink, pri: int) -> None:
    assert message.pri == pri
    assert message.time == event.time
    assert message.hostname == "forwarder-1.example"
    assert message.app_name == "cloudflare-access"
    assert message.procid == sink.procid
    assert message.msgid == event.log_type.value


@pytest.mark.parametrize("input_name", ["udp", "tcp", "tls", "tls_mutual"])
async def test_json_events_arrive_as_sent(receiver: Receiver, input_name: str) -> None:
    events = [access_event(), scim_event(), access_event(allowed=True, user_email="plain@example.com")]
    sink = sink_for(receiver, input_name)
    await deliver(sink, events)
    received = by_event_id(receiver, events)
    for event, pri in zip(events, [132, 134, 134], strict=True):  # local0: warning, info, info
        message = received[event.event_id]
        assert message.input == input_name
        assert_header(message, event, sink, pri)
        assert message.structured_data == {"cloudflare@32473": expected_structured_data(event)}
        assert without_bom(message.msg) == event.body.decode()
        assert orjson.loads(without_bom(message.msg)) == event.document


async def test_octet_counting_carries_line_feeds_inside_a_message(receiver: Receiver) -> None:
    event = scim_event(status="FAILURE", error_description='line one\nline two ] " \\')
    sink = sink_for(receiver, "tcp")
    await deliver(sink, [event])
    message = by_event_id(receiver, [event])[event.event_id]
    assert message.structured_data["cloudflare@32473"]["error_description"] == 'line one\nline two ] " \\'
    assert message.pri == 132


async def test_lf_framing_delivers_each_message_on_its_line(receiver: Receiver) -> None:
    events = [access_event(), scim_event(error_description="a\nb")]
    sink = sink_for(receiver, "tcp_lf")
    await deliver(sink, events)
    received = by_event_id(receiver, events)
    assert received[events[1].event_id].structured_data["cloudflare@32473"]["error_description"] == "a b"
    assert without_bom(received[events[0].event_id].msg) == events[0].body.decode()


async def test_a_large_batch_arrives_whole_over_tcp(receiver: Receiver) -> None:
    events = [access_event(ray_id=f"{index:016x}") for index in range(300)]
    sink = sink_for(receiver, "tcp")
    await deliver(sink, events)
    assert len(by_event_id(receiver, events)) == 300


@pytest.mark.parametrize("input_name", ["tcp", "tls"])
async def test_cef_payload_parses_back(receiver: Receiver, input_name: str) -> None:
    sink = sink_for(receiver, input_name, payload="cef")
    event = encoded_for(sink, access_event())
    await deliver(sink, [event])
    message = by_event_id(receiver, [event])[event.event_id]
    text = without_bom(message.msg)
    # The sink frames the CEF line the pipeline encoded, byte for byte.
    assert text == event.body.decode("utf-8")
    cef = parse_cef(text)
    assert cef.header[3:] == ["access_request.failure", "Access request denied", "6"]
    assert cef.extension["suser"] == f"{TRICKY}@example.com"
    assert cef.extension["request"] == "app.example.com/admin]"
    assert cef.extension["externalId"] == event.record.data["ray_id"]


async def test_leef_payload_parses_back(receiver: Receiver) -> None:
    sink = sink_for(receiver, "udp", payload="leef")
    event = encoded_for(sink, scim_event(status="FAILURE", error_description="x^y"))
    await deliver(sink, [event])
    message = by_event_id(receiver, [event])[event.event_id]
    leef = parse_leef(without_bom(message.msg))
    assert leef.header[3] == "scim_update.failure"
    assert leef.attributes["reason"] == "x^y"
    assert leef.attributes["requestBody"] == event.record.data["request_body"]
    assert leef.attributes["usrName"] == "ann@example.com"
    assert leef.attributes["devTime"] == "2024-06-07T08:09:11.500+0000"


async def test_rfc3164_over_udp(receiver: Receiver) -> None:
    event = access_event(allowed=True)
    sink = sink_for(receiver, "udp_3164", rfc="3164")
    await deliver(sink, [event])
    body = event.body.decode()
    message = receiver.wait_for(lambda received: received.msg.strip() == body)[0]
    assert message.pri == 134
    assert message.hostname == "forwarder-1.example"
    assert message.app_name == "cloudflare-access"
    assert message.procid == sink.procid
    # RFC 3164 carries no year: the receiver supplies one, so compare the rest.
    assert (
        message.time.month,
        message.time.day,
        message.time.hour,
        message.time.minute,
        message.time.second,
    ) == (
        6,
        7,
        8,
        9,
        10,
    )


async def test_udp_truncation_is_marked_and_counted(receiver: Receiver) -> None:
    event = scim_event(request_body="é" * 3000)
    sink = sink_for(receiver, "udp", udp_max_message_size=1024)
    await deliver(sink, [event])
    assert sink.truncated_messages == 1
    message = by_event_id(receiver, [event])[event.event_id]
    assert message.msg.endswith("[truncated]")
    assert event.body.decode().startswith(without_bom(message.msg).removesuffix("[truncated]"))


async def test_untrusted_receiver_certificate_is_a_config_error(receiver: Receiver, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    sink = sink_for(receiver, "tls", tls_ca_file=str(other_ca))
    with pytest.raises(SinkConfigError, match="FORWARDER_SYSLOG__TLS_CA_FILE"):
        await sink.send([access_event()])
    await sink.close()


async def test_wrong_server_name_is_a_config_error(receiver: Receiver) -> None:
    sink = sink_for(receiver, "tls", tls_server_name="siem.example.org")
    with pytest.raises(SinkConfigError, match="FORWARDER_SYSLOG__TLS_SERVER_NAME"):
        await sink.send([access_event()])
    await sink.close()


async def test_check_reports_a_missing_client_certificate(receiver: Receiver) -> None:
    sink = sink_for(receiver, "tls_mutual", tls_cert_file="", tls_key_file="")
    with pytest.raises(SinkConfigError, match="FORWARDER_SYSLOG__TLS_CERT_FILE"):
        await sink.check()
    await sink.close()


async def test_check_passes_with_the_client_certificate(receiver: Receiver) -> None:
    sink = sink_for(receiver, "tls_mutual")
    await sink.check()
    await sink.close()
