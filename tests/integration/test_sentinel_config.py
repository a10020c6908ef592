"""The Sentinel sink's credentials, `check`, and the configuration errors a person reads, against the
fakes of Entra ID (real azure-identity credentials over https) and of the Logs Ingestion API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.entra_id import invalid_client, service_error
from forwarder.sinks.base import RetryableError, SinkConfigError
from tests.support.azure import MANAGED_CLIENT_ID, SUBJECT, federated_token
from tests.support.sentinel import AZURE_VARIABLES, FOREIGN_RULE, AzureFakes, azure_fakes, ids, make_events

pytestmark = pytest.mark.integration


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureFakes]:
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with azure_fakes(tmp_path) as running:
        yield running


async def delivered_with(fakes: AzureFakes, **settings: object) -> None:
    sink = fakes.sink(**settings)
    batch = make_events(3)
    result = await sink.send(batch)
    await sink.close()
    assert (result.rejected, result.retry) == ([], [])
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)


async def test_client_certificate(fakes: AzureFakes) -> None:
    await delivered_with(
        fakes,
        credential="client_certificate",
        client_secret=None,
        client_certificate_file=fakes.certificate_path,
    )
    assert [request.flow for request in fakes.entra.token_requests] == ["certificate"]


async def test_workload_identity_with_the_variables_aks_sets(
    fakes: AzureFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", fakes.settings().tenant_id or "")
    monkeypatch.setenv("AZURE_CLIENT_ID", fakes.settings().client_id or "")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", federated_token(tmp_path, SUBJECT))
    await delivered_with(
        fakes, credential="workload_identity", client_secret=None, tenant_id=None, client_id=None
    )
    assert [request.flow for request in fakes.entra.token_requests] == ["federated"]


async def test_managed_identity(fakes: AzureFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{fakes.entra.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", fakes.entra.identity_header)
    await delivered_with(
        fakes,
        credential="managed_identity",
        client_secret=None,
        tenant_id=None,
        client_id=MANAGED_CLIENT_ID,
        authority_host=None,
    )
    assert [(request.flow, request.client_id) for request in fakes.entra.token_requests] == [
        ("app_service", MANAGED_CLIENT_ID)
    ]


async def test_check_probes_every_stream_and_writes_nothing(fakes: AzureFakes) -> None:
    sink = fakes.sink()
    await sink.check()
    await sink.close()
    requests = fakes.monitor.requests
    assert [request.path.rsplit("/", 1)[1] for request in requests] == [
        "Custom-CloudflareAccessAuthentication",
        "Custom-CloudflareAuditEvent",
        "Custom-CloudflareScimUserManagement",
    ]
    assert {request.body for request in requests} == {b"[]"}
    assert fakes.rows() == []


# settings, the words the message must hold (the variable to change, what to do)
CONFIG_ERRORS: list[tuple[dict[str, object], tuple[str, ...]]] = [
    ({"client_secret": "not-the-secret"}, ("FORWARDER_SENTINEL__CLIENT_SECRET", "AADSTS7000215")),
    (
        {"client_id": "77777777-7777-4777-8777-777777777777"},
        ("FORWARDER_SENTINEL__CLIENT_ID", "AADSTS700016"),
    ),
    ({"tenant_id": "88888888-8888-4888-8888-888888888888"}, ("FORWARDER_SENTINEL__TENANT_ID",)),
    ({"rule_id": FOREIGN_RULE}, ("Monitoring Metrics Publisher", "FORWARDER_SENTINEL__RULE_ID", "403")),
    ({"rule_id": "dcr-unknown"}, ("404", "FORWARDER_SENTINEL__RULE_ID")),
    (
        {"stream_access_requests": "Custom-Unknown"},
        ("404", "FORWARDER_SENTINEL__STREAM_ACCESS_REQUESTS", "Custom-Unknown"),
    ),
    (
        {"scope": "https://management.azure.com/.default"},
        ("401", "InvalidAudience", "FORWARDER_SENTINEL__SCOPE"),
    ),
    ({"tls_ca_file": None}, ("Entra ID", "FORWARDER_SENTINEL__TLS_CA_FILE")),
]


@pytest.mark.parametrize(("settings", "words"), CONFIG_ERRORS, ids=[str(row[0]) for row in CONFIG_ERRORS])
async def test_send_and_check_name_the_setting_to_fix(
    fakes: AzureFakes, settings: dict[str, object], words: tuple[str, ...]
) -> None:
    for action in ("send", "check"):
        sink = fakes.sink(**settings)
        with pytest.raises(SinkConfigError) as raised:
            await (sink.send(make_events(2)) if action == "send" else sink.check())
        await sink.close()
        for word in words:
            assert word in str(raised.value), (action, str(raised.value))
        assert "fake-client-secret-value" not in str(raised.value)
    assert fakes.rows() == []


async def test_a_certificate_file_that_cannot_be_read_names_its_variable(
    fakes: AzureFakes, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.pem"
    sink = fakes.sink(credential="client_certificate", client_secret=None, client_certificate_file=missing)
    with pytest.raises(SinkConfigError, match="FORWARDER_SENTINEL__CLIENT_CERTIFICATE_FILE"):
        await sink.send(make_events(1))
    await sink.close()


async def test_entra_id_busy_is_retryable_and_the_next_attempt_asks_again(fakes: AzureFakes) -> None:
    fakes.entra_thread.call(lambda fake: fake.inject(service_error(503)))
    sink = fakes.sink()
    batch = make_events(2)
    with pytest.raises(RetryableError, match="Entra ID token"):
        await sink.send(batch)
    await sink.send(batch)
    await sink.close()
    assert fakes.counts() == dict.fromkeys(ids(batch), 1)


async def test_entra_id_unreachable_is_retryable(fakes: AzureFakes) -> None:
    sink = fakes.sink(authority_host="https://127.0.0.1:9")
    with pytest.raises(RetryableError, match="Entra ID token"):
        await sink.send(make_events(1))
    await sink.close()


async def test_an_entra_refusal_is_not_retried_as_the_service_being_busy(fakes: AzureFakes) -> None:
    fakes.entra_thread.call(lambda fake: fake.inject(invalid_client()))
    sink = fakes.sink()
    with pytest.raises(SinkConfigError, match="FORWARDER_SENTINEL__CLIENT_SECRET"):
        await sink.check()
    await sink.close()
