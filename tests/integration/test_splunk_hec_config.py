"""Configuration errors stop the sink with a message a person can act on; ``check`` probes HEC."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakes.splunk_hec import FakeHec, HecToken
from forwarder.sinks.base import RetryableError, SinkConfigError
from forwarder.sinks.splunk_hec import SplunkHecSettings, SplunkHecSink
from tests.support.splunk_hec_support import TOKEN, event_id_of, make_events, sink_for

pytestmark = pytest.mark.integration

DISABLED = "99999999-0000-4000-8000-000000000000"
UNKNOWN = "77777777-0000-4000-8000-000000000000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeHec]:
    hec = FakeHec([HecToken(TOKEN), HecToken(DISABLED, enabled=False)])
    async with hec.serve():
        yield hec


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (
            UNKNOWN,
            "HEC code 4 (Invalid token, HTTP 403): "
            "Splunk does not know the token in FORWARDER_SPLUNK_HEC__TOKEN",
        ),
        (DISABLED, "HEC code 1 (Token disabled, HTTP 403): the token is disabled in Splunk"),
    ],
    ids=["unknown-token", "disabled-token"],
)
async def test_a_bad_token_is_a_configuration_error(fake: FakeHec, token: str, expected: str) -> None:
    sink = sink_for(fake, token=token)
    with pytest.raises(SinkConfigError) as raised:
        await sink.send(make_events(3))
    await sink.close()
    assert str(raised.value).startswith(expected)
    assert token not in str(raised.value)
    # Nothing delivered, nothing reported as delivered: the pipeline keeps the checkpoint.
    assert fake.indexed == []


async def test_a_token_pasted_with_its_scheme_still_works(fake: FakeHec) -> None:
    sink = sink_for(fake, token=f"Splunk {TOKEN}")
    await sink.send(make_events(1))
    await sink.close()
    assert fake.event_requests[0].headers["Authorization"] == f"Splunk {TOKEN}"


async def test_a_token_file(fake: FakeHec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "hec-token"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__URL", fake.url)
    monkeypatch.setenv("FORWARDER_SPLUNK_HEC__TOKEN_FILE", str(token_file))
    sink = SplunkHecSink(SplunkHecSettings())
    batch = make_events(2)
    await sink.send(batch)
    await sink.close()
    assert sorted(fake.counts(event_id_of)) == sorted(event.event_id for event in batch)


async def test_a_url_that_is_not_hec(fake: FakeHec) -> None:
    sink_for_wrong_path = SplunkHecSink(SplunkHecSettings(url=f"{fake.url}/not-splunk/", token=TOKEN))
    with pytest.raises(SinkConfigError, match="HTTP 404 without a HEC code: FORWARDER_SPLUNK_HEC__URL"):
        await sink_for_wrong_path.send(make_events(1))
    await sink_for_wrong_path.close()


async def test_the_full_collector_url_is_accepted(fake: FakeHec) -> None:
    sink = SplunkHecSink(SplunkHecSettings(url=f"{fake.url}/services/collector/event", token=TOKEN))
    await sink.send(make_events(1))
    await sink.close()
    assert fake.event_requests[0].path == "/services/collector/event"


async def test_check_passes_and_indexes_nothing(fake: FakeHec) -> None:
    sink = sink_for(fake)
    await sink.check()
    await sink.close()
    assert [(r.method, r.path, r.body) for r in fake.requests] == [
        ("GET", "/services/collector/health", b""),
        ("POST", "/services/collector/event", b""),
    ]
    assert fake.indexed == []


@pytest.mark.parametrize(
    ("token", "expected"),
    [(UNKNOWN, "HEC code 21 (Invalid token"), (DISABLED, "HEC code 22 (Token disabled")],
)
async def test_check_names_a_bad_token(fake: FakeHec, token: str, expected: str) -> None:
    sink = sink_for(fake, token=token)
    with pytest.raises(SinkConfigError, match=expected.replace("(", r"\(")):
        await sink.check()
    await sink.close()


async def test_check_reports_an_unhealthy_hec_as_retryable(fake: FakeHec) -> None:
    fake.unhealthy_code = 18
    sink = sink_for(fake)
    with pytest.raises(RetryableError, match="queues are full"):
        await sink.check()
    await sink.close()


async def test_nothing_listening_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SplunkHecSink(SplunkHecSettings(url=f"http://127.0.0.1:{port}", token=TOKEN))
    with pytest.raises(RetryableError, match="ConnectError"):
        await sink.send(make_events(1))
    with pytest.raises(RetryableError):
        await sink.check()
    await sink.close()


async def test_open_refuses_a_missing_ca_bundle(tmp_path: Path) -> None:
    sink = SplunkHecSink(
        SplunkHecSettings(
            url="https://127.0.0.1:1",
            token=TOKEN,
            ca_bundle=f"{tmp_path}/missing.pem",
        )
    )
    with pytest.raises(SinkConfigError, match="FORWARDER_SPLUNK_HEC__CA_BUNDLE: cannot load CA certificates"):
        await sink.open()


async def test_open_refuses_a_key_without_a_certificate(tmp_path: Path) -> None:
    sink = SplunkHecSink(
        SplunkHecSettings(
            url="https://127.0.0.1:1",
            token=TOKEN,
            client_key=f"{tmp_path}/key.pem",
        )
    )
    with pytest.raises(SinkConfigError, match="FORWARDER_SPLUNK_HEC__CLIENT_KEY is set but"):
        await sink.open()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8088/" + "a" * 70_000, "URL too long"),
        ("http://xn--ls8h.la:8088", "not allowed"),
    ],
    ids=["url too long", "host not valid idna"],
)
async def test_an_address_httpx_cannot_use_is_a_configuration_error(url: str, reason: str) -> None:
    # Valid to pydantic, refused by httpx when the request is made (not as a transport error).
    sink = SplunkHecSink(SplunkHecSettings(url=url, token=TOKEN))
    try:
        for attempt in (sink.send(make_events(1)), sink.check()):
            with pytest.raises(SinkConfigError) as raised:
                await attempt
            message = str(raised.value)
            assert message.startswith("cannot use the address http://")
            assert reason in message
            assert message.endswith("check FORWARDER_SPLUNK_HEC__URL")
    finally:
        await sink.close()
