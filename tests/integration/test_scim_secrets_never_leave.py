"""Secrets planted in SCIM bodies of every shape never leave the forwarder.

The real forwarder reads them from the Cloudflare simulator over a socket and ships them through
the file sink in each format, or through a sink that rejects everything so that they all land in
the dead-letter file. Not one planted secret may appear in any file the run writes or in any log
record (message, arguments or extra fields), at DEBUG.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes.cloudflare.config import DEFAULT_TOKEN, SimulatorConfig
from fakes.cloudflare.server import Simulator
from forwarder.app import Forwarder, Parts
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.settings import Config, Settings
from forwarder.sinks.base import Event, Rejection, SendResult, Sink
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.memory_sink import MemorySinkSettings

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
NOW = datetime.now(UTC).replace(microsecond=0)

# Every value here is planted in a body below; none may come out.
SECRETS = {
    "json password": "Json-Pw-7f3a9c1e",
    "patch value": "Patch-Pw-0b6d2e4f",
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzY2ltLTQ0In0.U2lnbmF0dXJlLTk5ODg3NzY2",
    "broken json secret": "Broken-Secret-5a5a5a",
    "form secret": "Form-Secret-1c2c3c4c",
    "slack webhook": "Webhook-Path-3d4e5f6a7b",
    "bearer header": "Header-Bearer-8e9f0a1b",
    "cookie": "Cookie-Session-2b3c4d5e",
    "api key header": "Header-ApiKey-6f7a8b9c",
    "embedded json": "Embedded-Pw-0d1e2f3a",
    "soap password": "Soap-Pw-4b5c6d7e",
    "cdata": "Cdata-Secret-8f9a0b1c",
    "attribute": "Attr-Key-2d3e4f5a",
    "google key": "AIzaSyB-9876543210zyxwvutsrqponmlkjih",
    "aws key id": "AKIAZQ9EXAMPLE123456",
    "aws secret": "Zq9alrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY",
    "github": "Zq9Hub1a2B3c4D5e6F7g8H9i0JkLmNoPqRsT",
    "slack token": "Zq9Slack-1234567890-abcdefghijkl",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Zq9",
    "log password": "Log-Pw-6c7d8e9f",
    "url password": "Url-Pw-0a1b2c3d",
    "basic": base64.b64encode(b"scim:Basic-Pw-4e5f6a7b").decode(),
    "string token": "Zq9Pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsT",
}
S = SECRETS

BODIES = [
    # Okta-style user creation: a password member, and a JWT in an ordinary string.
    orjson.dumps(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "carol@example.com",
            "password": S["json password"],
            "displayName": f"Carol (token {S['jwt']})",
        }
    ).decode(),
    # Azure AD-style PATCH whose path names the password.
    orjson.dumps(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "password", "value": S["patch value"]}],
        }
    ).decode(),
    f'{{"userName": "dave@example.com", "client_secret": "{S["broken json secret"]}"',
    f"grant_type=client_credentials&client_id=0oa1&client_secret={S['form secret']}"
    f"&notify=https%3A%2F%2Fhooks.slack.com%2Fservices%2FT0%2FB0%2F{S['slack webhook']}",
    "POST /scim/v2/Users HTTP/1.1\r\n"
    f"Authorization: Bearer {S['bearer header']}\r\n"
    f"Cookie: CF_Authorization={S['cookie']}\r\n"
    f"X-Api-Key: {S['api key header']}\r\n"
    "Content-Type: application/scim+json\r\n\r\n"
    f'{{"userName": "erin@example.com", "password": "{S["embedded json"]}"}}',
    '<?xml version="1.0"?><soap:Envelope><soap:Header><wsse:Security>'
    f"<wsse:Password>{S['soap password']}</wsse:Password></wsse:Security></soap:Header>"
    f"<soap:Body><ClientSecret><![CDATA[{S['cdata']}]]></ClientSecret>"
    f'<user mail="frank@example.com" apiKey="{S["attribute"]}"/><note>key {S["google key"]}</note>'
    "</soap:Body></soap:Envelope>",
    "provisioning run for grace@example.com\n"
    f"export AWS_ACCESS_KEY_ID={S['aws key id']}\nexport AWS_SECRET_ACCESS_KEY={S['aws secret']}\n"
    f"github ghp_{S['github']} slack xoxb-{S['slack token']}\n"
    f"-----BEGIN PRIVATE KEY-----\n{S['pem']}\n-----END PRIVATE KEY-----\n"
    f"login failed: password={S['log password']}; retrying https://svc:{S['url password']}@idp.example\n"
    f"Authorization: Basic {S['basic']}\n",
    orjson.dumps(f"userName=henry&note=github_pat_{S['string token']}").decode(),
]
SHAPES = {"json", "form", "headers", "markup", "text"}


class RejectEverything(Sink):
    """A receiver that refuses every event it is sent, for good: all of it is dead-lettered."""

    name = "reject-everything"
    settings_model = MemorySinkSettings

    async def send(self, batch: Sequence[Event]) -> SendResult:
        return SendResult(rejected=[Rejection(event, "rejected by the test receiver") for event in batch])


def _records(idp: str) -> list[dict[str, Any]]:
    moment = (NOW - timedelta(minutes=30)).isoformat()
    return [
        {
            "cf_resource_id": f"5f1c0a7e-0000-4000-8000-{index:012d}",
            "idp_id": idp,
            "idp_resource_id": f"00u{index}",
            "logged_at": moment,
            "request_body": body,
            "request_method": "PATCH",
            "resource_type": "USER",
            "resource_user_email": "carol@example.com",
            "status": "SUCCESS",
        }
        for index, body in enumerate(BODIES)
    ]


def _settings(base_url: str, tmp_path: Path) -> Settings:
    return Settings(
        cloudflare_api_token=DEFAULT_TOKEN,
        cloudflare_api_base_url=base_url,
        account_ids=[ACCOUNT],
        log_types=["scim_updates"],
        start_at="3600s",
        settle_delay=60,
        page_size=100,
        max_window=1800,
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
        dead_letter_path=tmp_path / "dead-letters.ndjson",
        checkpoint_path=tmp_path / "checkpoints.json",
    )


async def _run(tmp_path: Path, sink: Sink) -> None:
    simulator = Simulator(
        SimulatorConfig(
            accounts=[ACCOUNT],
            start=NOW - timedelta(hours=1),
            end=NOW,
            access_per_minute=0,
            scim_per_minute=0,
        )
    )
    idp = simulator.scim_provider_ids(ACCOUNT)[0]
    assert simulator.add_records(ACCOUNT, "scim_updates", _records(idp)) == len(BODIES)
    base_url = await simulator.start()
    try:
        config = Config(_settings(base_url, tmp_path), ())
        forwarder = Forwarder.build(config, Parts(sinks=[sink], checkpoints=MemoryCheckpointStore(), now=NOW))
        await forwarder.run(until_caught_up=True)
    finally:
        await simulator.stop()
    assert simulator.violations == []


def _leaks(text: bytes | str) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, secret in SECRETS.items() if secret.encode() in data]


def _assert_nothing_leaked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert not _leaks(path.read_bytes()), path.name
    for record in caplog.records:
        # vars() holds the message template, its arguments and every `extra` field.
        assert not _leaks(record.getMessage() + repr(vars(record))), record.getMessage()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("fmt", ["raw", "ecs", "ocsf"])
async def test_no_planted_secret_reaches_the_output_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    output = tmp_path / "events.ndjson"
    await _run(tmp_path, FileSink(FileSinkSettings(path=str(output), format=fmt, fsync=False)))
    events = _lines(output)
    assert len(events) == len(BODIES)
    assert _lines(tmp_path / "dead-letters.ndjson") == []
    # The bodies did travel, redacted: shipped, not lost.
    assert sum(orjson.dumps(event).count(b"[REDACTED") for event in events) >= len(BODIES)
    if fmt == "raw":
        assert {event["request_body_info"]["shape"] for event in events} == SHAPES
    _assert_nothing_leaked(tmp_path, caplog)


@pytest.mark.parametrize("fmt", ["raw", "ecs", "ocsf"])
async def test_no_planted_secret_reaches_the_dead_letter_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    await _run(tmp_path, RejectEverything(MemorySinkSettings(format=fmt)))
    letters = _lines(tmp_path / "dead-letters.ndjson")
    assert len(letters) == len(BODIES)
    assert all(letter["document"] is not None for letter in letters)
    assert {letter["record"]["request_body_info"]["shape"] for letter in letters} == SHAPES
    _assert_nothing_leaked(tmp_path, caplog)
