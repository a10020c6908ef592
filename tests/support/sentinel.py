"""Helpers for the Sentinel sink tests: the Azure fakes set up as deploy/sentinel sets up Azure, ASIM events,
and sinks pointed at the fakes.

The data collection rule of the fake declares exactly the streams and columns of
``deploy/sentinel/azuredeploy.json``, and checks value types strictly: what the sink sends is held to what
the template deploys.
"""

from __future__ import annotations

import json
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509

from fakes.azure_monitor import DataCollectionRule, FakeAzureMonitor
from fakes.entra_id import Application, FakeEntraId, FederatedCredential, ManagedIdentity
from fakes.threaded import ThreadedFake
from forwarder.formats import Format, encoder_for
from forwarder.records import LogType, make_record
from forwarder.sinks.base import Event
from forwarder.sinks.sentinel import SentinelSettings, SentinelSink
from tests.support.azure import (
    CLIENT_ID,
    ISSUER,
    MANAGED_CLIENT_ID,
    MANAGED_OBJECT_ID,
    PUBLISHER,
    RULE,
    SECRET,
    SUBJECT,
    TENANT,
    serving_in_thread,
)

# A rule the forwarder's identity holds no role on: its requests are answered 403.
FOREIGN_RULE = "dcr-00000000000000000000000000000002"
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "sentinel" / "azuredeploy.json"
ACCOUNT = "0123456789abcdef0123456789abcdef"
START = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
# The variables a developer's own Azure setup may hold, which would steer credentials away from the fakes.
AZURE_VARIABLES = (
    "AZURE_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
)


def template_streams() -> dict[str, dict[str, str]]:
    """Stream name -> column -> type, as the template's data collection rule declares them."""
    template: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    variables = template["variables"]

    def resolved(expression: str) -> Any:
        return variables[expression.removeprefix("[variables('").removesuffix("')]")]

    (rule,) = [
        entry for entry in template["resources"] if entry["type"] == "Microsoft.Insights/dataCollectionRules"
    ]
    return {
        resolved(stream): {column["name"]: column["type"] for column in resolved(declaration["columns"])}
        for stream, declaration in rule["properties"]["streamDeclarations"].items()
    }


class Clock:
    """A clock both fakes read, which a test moves on: the time a token is checked against."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@dataclass
class AzureFakes:
    entra_thread: ThreadedFake[FakeEntraId]
    monitor_thread: ThreadedFake[FakeAzureMonitor]
    ca_path: Path
    certificate_path: Path
    clock: Clock

    @property
    def entra(self) -> FakeEntraId:
        return self.entra_thread.fake

    @property
    def monitor(self) -> FakeAzureMonitor:
        return self.monitor_thread.fake

    def settings(self, **overrides: Any) -> SentinelSettings:
        values: dict[str, Any] = {
            "url": self.monitor.url,
            "rule_id": RULE,
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "authority_host": self.entra.url,
            "tls_ca_file": self.ca_path,
        }
        values.update(overrides)
        return SentinelSettings(**{name: value for name, value in values.items() if value is not None})

    def sink(self, **overrides: Any) -> SentinelSink:
        return SentinelSink(self.settings(**overrides))

    def inject(self, *faults: Any) -> None:
        self.monitor_thread.call(lambda fake: fake.inject(*faults))

    def rows(self) -> list[dict[str, Any]]:
        return self.monitor_thread.call(
            lambda fake: [dict(row) for rows in fake.accepted.values() for row in rows]
        )

    def counts(self) -> Counter[str]:
        """How often each event (by EventUid) reached a table."""
        return Counter(str(row["EventUid"]) for row in self.rows())


@contextmanager
def azure_fakes(directory: Path) -> Iterator[AzureFakes]:
    """Entra ID (https, a throwaway CA) and the Logs Ingestion API, each on a thread of its own."""
    authority = trustme.CA()
    ca_path = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_path))
    # Entra ID signs assertions with RSA only.
    certificate = authority.issue_cert("cloudflare-siem-forwarder", key_type=trustme.KeyType.RSA)
    certificate_path = directory / "client.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(certificate_path))
    application = Application(
        CLIENT_ID,
        PUBLISHER,
        secrets=frozenset({SECRET}),
        certificates=(x509.load_pem_x509_certificate(certificate.cert_chain_pems[0].bytes()),),
        federated=(FederatedCredential(ISSUER, SUBJECT),),
    )
    clock = Clock()
    entra = FakeEntraId(
        TENANT, [application], [ManagedIdentity(MANAGED_CLIENT_ID, MANAGED_OBJECT_ID)], clock=clock
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    streams = template_streams()
    rules = [
        DataCollectionRule(RULE, streams, publishers=frozenset({PUBLISHER, MANAGED_OBJECT_ID})),
        DataCollectionRule(FOREIGN_RULE, streams),
    ]
    with serving_in_thread(entra, context) as entra_thread:
        monitor = FakeAzureMonitor(rules, entra.key, clock=clock)
        with serving_in_thread(monitor) as monitor_thread:
            yield AzureFakes(entra_thread, monitor_thread, ca_path, certificate_path, clock)


def make_event(number: int, log_type: LogType = LogType.ACCESS_REQUESTS, fmt: Format = "asim") -> Event:
    moment = (START + timedelta(seconds=number)).isoformat()
    if log_type is LogType.ACCESS_REQUESTS:
        data: dict[str, Any] = {
            "ray_id": f"{number:016x}",
            "created_at": moment,
            "user_email": f"user{number}@example.com",
            "action": "login",
            "allowed": number % 3 != 0,
            "ip_address": "198.51.100.7",
        }
    elif log_type is LogType.SCIM_UPDATES:
        data = {
            "logged_at": moment,
            "resource_type": "USER",
            "request_method": "POST",
            "resource_user_email": f"user{number}@example.com",
            "status": "SUCCESS",
        }
    else:
        data = {
            "id": f"{number:032x}",
            "action": {
                "description": "Update Access policy",
                "result": "success",
                "time": moment,
                "type": "update",
            },
            "actor": {"email": f"admin{number}@example.com", "ip_address": "198.51.100.7", "type": "user"},
            "resource": {
                "id": f"{number:032x}",
                "product": "access",
                "type": "policy",
                "request": {"n": number},
            },
            "raw": {"method": "PUT", "status_code": 200, "uri": "/accounts/x/access/policies"},
        }
    record = make_record(log_type, ACCOUNT, data, observed=START)
    return Event(record=record, body=encoder_for(fmt)(record))


def make_events(count: int, start: int = 0, log_type: LogType = LogType.ACCESS_REQUESTS) -> list[Event]:
    return [make_event(number, log_type) for number in range(start, start + count)]


def ids(events: list[Event]) -> list[str]:
    return [event.event_id for event in events]
