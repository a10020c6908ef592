"""The fake Entra ID and the fake Logs Ingestion API answer the way Microsoft documents: real azure-identity
credentials get tokens from the fake Entra ID (over https, as azure-identity insists), and the ingestion fake
accepts, counts and refuses requests like the service. If the fakes were wrong, the Sentinel sink's tests
would prove nothing."""

from __future__ import annotations

import gzip
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from cryptography import x509

from fakes.azure_monitor import (
    DataCollectionRule,
    FakeAzureMonitor,
    Normal,
    Reset,
    Slow,
    internal_error,
    throttled,
    unavailable,
)
from fakes.entra_id import (
    Application,
    FakeEntraId,
    FederatedCredential,
    ManagedIdentity,
    invalid_client,
    service_error,
)
from fakes.threaded import ThreadedFake
from tests.support.azure import (
    CLIENT_ID,
    COLUMNS,
    ISSUER,
    MANAGED_CLIENT_ID,
    MANAGED_OBJECT_ID,
    OUTSIDER,
    PUBLISHER,
    ROW,
    RULE,
    SCOPE,
    SECRET,
    STREAM,
    SUBJECT,
    TENANT,
    bearer,
    credential_options,
    federated_token,
    ingest_url,
    serving_in_thread,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_certificate(authority: trustme.CA) -> trustme.LeafCert:
    # Entra ID signs assertions with RSA only (RS256, PS256).
    return authority.issue_cert("cloudflare-siem-forwarder", key_type=trustme.KeyType.RSA)


@pytest.fixture
def ca_path(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def entra_thread(
    authority: trustme.CA, client_certificate: trustme.LeafCert
) -> Iterator[ThreadedFake[FakeEntraId]]:
    certificate = x509.load_pem_x509_certificate(client_certificate.cert_chain_pems[0].bytes())
    application = Application(
        CLIENT_ID,
        PUBLISHER,
        secrets=frozenset({SECRET}),
        certificates=(certificate,),
        federated=(FederatedCredential(ISSUER, SUBJECT),),
    )
    fake = FakeEntraId(TENANT, [application], [ManagedIdentity(MANAGED_CLIENT_ID, MANAGED_OBJECT_ID)])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with serving_in_thread(fake, context) as threaded:
        yield threaded


@pytest.fixture
def entra(entra_thread: ThreadedFake[FakeEntraId]) -> FakeEntraId:
    return entra_thread.fake


@pytest.fixture
def monitor_thread(entra: FakeEntraId) -> Iterator[ThreadedFake[FakeAzureMonitor]]:
    rule = DataCollectionRule(RULE, {STREAM: COLUMNS}, publishers=frozenset({PUBLISHER, MANAGED_OBJECT_ID}))
    with serving_in_thread(FakeAzureMonitor([rule], entra.key)) as threaded:
        yield threaded


@pytest.fixture
def monitor(monitor_thread: ThreadedFake[FakeAzureMonitor]) -> FakeAzureMonitor:
    return monitor_thread.fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5) as http:
        yield http


# --- azure-identity against the fake Entra ID ------------------------------------------------


def test_client_secret_credential_token_is_accepted_by_the_ingestion_api(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client, ca_path: str
) -> None:
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, **credential_options(entra, ca_path))
    token = credential.get_token(SCOPE)
    body = json.dumps([ROW, {**ROW, "TargetUsername": "grace@example.com"}])
    response = client.post(ingest_url(monitor), content=body, headers=bearer(token.token))
    assert response.status_code == 204
    assert monitor.accepted_count(STREAM) == 2
    assert [row["TargetUsername"] for row in monitor.accepted[STREAM]] == [
        "ada@example.com",
        "grace@example.com",
    ]
    assert [(r.flow, r.client_id, r.audience) for r in entra.token_requests] == [
        ("client_secret", CLIENT_ID, "https://monitor.azure.com")
    ]


def test_a_token_is_cached_while_valid(entra: FakeEntraId, ca_path: str) -> None:
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, **credential_options(entra, ca_path))
    assert credential.get_token(SCOPE).token == credential.get_token(SCOPE).token
    assert len(entra.token_requests) == 1


def test_an_expired_token_is_refused_and_the_credential_gets_a_new_one(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client, ca_path: str
) -> None:
    entra.expires_in = 1
    credential = ClientSecretCredential(TENANT, CLIENT_ID, SECRET, **credential_options(entra, ca_path))
    first = credential.get_token(SCOPE)
    time.sleep(max(first.expires_on - time.time(), 0) + 0.2)
    refused = client.post(ingest_url(monitor), content=json.dumps([ROW]), headers=bearer(first.token))
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "TokenExpired")
    second = credential.get_token(SCOPE)
    assert second.token != first.token
    assert len(entra.token_requests) == 2
    accepted = client.post(ingest_url(monitor), content=json.dumps([ROW]), headers=bearer(second.token))
    assert accepted.status_code == 204


def test_a_wrong_secret_is_entra_invalid_client(entra: FakeEntraId, ca_path: str) -> None:
    credential = ClientSecretCredential(
        TENANT, CLIENT_ID, "not-the-secret", **credential_options(entra, ca_path)
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(SCOPE)
    assert entra.token_requests == []


def test_certificate_credential(
    entra: FakeEntraId, ca_path: str, client_certificate: trustme.LeafCert, authority: trustme.CA
) -> None:
    pem = client_certificate.private_key_and_cert_chain_pem.bytes()
    credential = CertificateCredential(
        TENANT, CLIENT_ID, certificate_data=pem, **credential_options(entra, ca_path)
    )
    assert credential.get_token(SCOPE).token
    assert [request.flow for request in entra.token_requests] == ["certificate"]

    stranger = authority.issue_cert("someone-else", key_type=trustme.KeyType.RSA)
    unknown = CertificateCredential(
        TENANT,
        CLIENT_ID,
        certificate_data=stranger.private_key_and_cert_chain_pem.bytes(),
        **credential_options(entra, ca_path),
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        unknown.get_token(SCOPE)


def test_workload_identity_credential(entra: FakeEntraId, ca_path: str, tmp_path: Path) -> None:
    options = credential_options(entra, ca_path)
    credential = WorkloadIdentityCredential(
        tenant_id=TENANT, client_id=CLIENT_ID, token_file_path=federated_token(tmp_path, SUBJECT), **options
    )
    assert credential.get_token(SCOPE).token
    assert [request.flow for request in entra.token_requests] == ["federated"]

    wrong = WorkloadIdentityCredential(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        token_file_path=federated_token(tmp_path, "system:other"),
        **options,
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        wrong.get_token(SCOPE)


def test_managed_identity_credential_through_identity_endpoint(
    entra: FakeEntraId, ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{entra.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", entra.identity_header)
    credential = ManagedIdentityCredential(client_id=MANAGED_CLIENT_ID, connection_verify=ca_path)
    token = credential.get_token(SCOPE)
    assert entra.key.read(token.token)["oid"] == MANAGED_OBJECT_ID
    assert [(r.flow, r.client_id) for r in entra.token_requests] == [("app_service", MANAGED_CLIENT_ID)]


# --- the token endpoints, byte for byte --------------------------------------------------------


def token_form(**extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": SCOPE, **extra}


def test_token_endpoint_answers_and_faults(
    entra_thread: ThreadedFake[FakeEntraId], entra: FakeEntraId, ca_path: str
) -> None:
    entra_thread.call(lambda fake: fake.inject(invalid_client(), service_error(503), Normal()))
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_path), trust_env=False) as http:
        answers = [http.post(entra.token_endpoint, data=token_form(client_secret=SECRET)) for _ in range(3)]
        bad_scope = http.post(entra.token_endpoint, data={**token_form(client_secret=SECRET), "scope": "x"})
    assert [answer.status_code for answer in answers] == [401, 503, 200]
    assert answers[0].json()["error"] == "invalid_client"
    assert answers[0].json()["error_codes"] == [7000215]
    assert answers[1].json()["error_description"].startswith("AADSTS50000:")
    assert answers[2].json()["token_type"] == "Bearer"
    assert answers[2].json()["expires_in"] == 3600
    assert entra.key.read(answers[2].json()["access_token"])["aud"] == "https://monitor.azure.com"
    assert bad_scope.status_code == 400
    assert bad_scope.json()["error"] == "invalid_scope"


def test_imds_endpoint_needs_the_metadata_header(entra: FakeEntraId, ca_path: str) -> None:
    url = f"{entra.url}/metadata/identity/oauth2/token"
    params = {"api-version": "2018-02-01", "resource": "https://monitor.azure.com"}
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_path), trust_env=False) as http:
        refused = http.get(url, params=params)
        granted = http.get(url, params=params, headers={"Metadata": "true"})
    assert refused.status_code == 400
    body = granted.json()
    assert body["client_id"] == MANAGED_CLIENT_ID
    assert body["expires_in"] == "3600"
    assert int(body["expires_on"]) >= int(time.time()) + 3599
    assert entra.key.read(body["access_token"])["oid"] == MANAGED_OBJECT_ID


# --- the ingestion API -------------------------------------------------------------------------


def test_gzip_bodies_are_accepted_and_undeclared_columns_dropped(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client
) -> None:
    body = gzip.compress(json.dumps([{**ROW, "Surplus": "x"}]).encode())
    headers = {**bearer(entra.issue(PUBLISHER)), "Content-Encoding": "gzip"}
    response = client.post(ingest_url(monitor), content=body, headers=headers)
    assert response.status_code == 204
    assert monitor.accepted[STREAM] == [ROW]
    assert monitor.dropped_columns == {"Surplus": 1}
    assert monitor.requests[0].raw_body == body


def refusal_cases(
    entra: FakeEntraId, monitor: FakeAzureMonitor
) -> list[tuple[str, dict[str, str], str, int, str]]:
    good = bearer(entra.issue(PUBLISHER))
    rows = json.dumps([ROW])
    return [
        (ingest_url(monitor), {"Content-Type": "application/json"}, rows, 401, "InvalidToken"),
        (ingest_url(monitor), bearer(entra.issue(PUBLISHER, lifetime=-1)), rows, 401, "TokenExpired"),
        (
            ingest_url(monitor),
            bearer(entra.issue(PUBLISHER, "https://management.azure.com")),
            rows,
            401,
            "InvalidAudience",
        ),
        (ingest_url(monitor), bearer(entra.issue(OUTSIDER)), rows, 403, "OperationFailed"),
        (ingest_url(monitor, rule="dcr-unknown"), good, rows, 404, "NotFound"),
        (ingest_url(monitor, stream="Custom-Unknown"), good, rows, 404, "InvalidStream"),
        (ingest_url(monitor, version="2021-11-01-preview"), good, rows, 400, "InvalidApiVersion"),
        (ingest_url(monitor), good, json.dumps(ROW), 400, "InvalidPayload"),
        (ingest_url(monitor), good, json.dumps([{**ROW, "EventCount": "1"}]), 400, "InvalidColumnType"),
    ]


def test_refusals_name_the_problem_and_accept_nothing(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client
) -> None:
    for url, headers, body, status, code in refusal_cases(entra, monitor):
        response = client.post(url, content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), url
        assert response.headers["x-ms-error-code"] == code
    assert monitor.accepted_count() == 0


def test_the_missing_role_is_named_in_the_403(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client
) -> None:
    response = client.post(ingest_url(monitor), content="[]", headers=bearer(entra.issue(OUTSIDER)))
    assert response.json()["error"]["message"].startswith(
        f"The authentication token provided does not have access to ingest data for the data collection rule "
        f"with immutable Id '{RULE}'"
    )


def test_one_megabyte_compressed_or_not(
    entra: FakeEntraId, monitor: FakeAzureMonitor, client: httpx.Client
) -> None:
    headers = {**bearer(entra.issue(PUBLISHER)), "Content-Encoding": "gzip"}

    def body_of(size: int) -> bytes:
        padding = size - len(json.dumps([{**ROW, "TargetUsername": ""}]))
        return json.dumps([{**ROW, "TargetUsername": "a" * padding}]).encode()

    fits, too_big = body_of(1024 * 1024), body_of(1024 * 1024 + 1)
    assert (len(fits), len(too_big)) == (1024 * 1024, 1024 * 1024 + 1)
    # Compressed, both are tiny on the wire: the limit holds for the decompressed body too.
    answers = [
        client.post(ingest_url(monitor), content=gzip.compress(body), headers=headers)
        for body in (fits, too_big)
    ]
    assert [answer.status_code for answer in answers] == [204, 413]
    assert monitor.accepted_count() == 1


def test_lenient_types_drop_the_value_as_log_analytics_does(entra: FakeEntraId, client: httpx.Client) -> None:
    rule = DataCollectionRule(RULE, {STREAM: COLUMNS}, publishers=frozenset({PUBLISHER}))
    with serving_in_thread(FakeAzureMonitor([rule], entra.key, strict_types=False)) as threaded:
        monitor = threaded.fake
        row = {**ROW, "EventCount": "one"}
        response = client.post(
            ingest_url(monitor), content=json.dumps([row]), headers=bearer(entra.issue(PUBLISHER))
        )
    assert response.status_code == 204
    assert monitor.accepted[STREAM] == [{name: value for name, value in ROW.items() if name != "EventCount"}]
    assert monitor.dropped_values == {"EventCount": 1}


def test_faults_in_the_order_queued(
    entra: FakeEntraId,
    monitor_thread: ThreadedFake[FakeAzureMonitor],
    monitor: FakeAzureMonitor,
    client: httpx.Client,
) -> None:
    faults = (throttled("7"), unavailable("3"), internal_error(), Reset(), Reset(after_accepting=True))
    monitor_thread.call(lambda fake: fake.inject(*faults))
    headers, rows = bearer(entra.issue(PUBLISHER)), json.dumps([ROW])
    statuses = []
    for _ in range(3):
        response = client.post(ingest_url(monitor), content=rows, headers=headers)
        statuses.append((response.status_code, response.headers.get("Retry-After")))
    assert statuses == [(429, "7"), (503, "3"), (500, None)]
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            client.post(ingest_url(monitor), content=rows, headers=headers)
    # The reset after accepting lost the answer, not the rows: a retry duplicates them (at-least-once).
    assert monitor.accepted_count() == 1
    assert (client.post(ingest_url(monitor), content=rows, headers=headers)).status_code == 204
    assert monitor.accepted_count() == 2


def test_a_slow_answer_times_out_the_client(
    entra: FakeEntraId, monitor_thread: ThreadedFake[FakeAzureMonitor], monitor: FakeAzureMonitor
) -> None:
    monitor_thread.call(lambda fake: fake.inject(Slow(1.0)))
    with httpx.Client(trust_env=False, timeout=0.2) as http, pytest.raises(httpx.ReadTimeout):
        http.post(ingest_url(monitor), content=json.dumps([ROW]), headers=bearer(entra.issue(PUBLISHER)))


@pytest.fixture(autouse=True)
def _no_azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own AZURE_* settings must not steer the credentials away from the fakes.
    for name in (
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IMDS_ENDPOINT",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
