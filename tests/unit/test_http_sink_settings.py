"""The http sink's settings: presets with the documented limits, authentication, and the messages a
person reads; and the two request bodies."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from forwarder.settings.loading import describe_errors
from forwarder.sinks.http import HttpSettings, HttpSink
from forwarder.sinks.http.encoder import body
from forwarder.sinks.http.request import auth_headers

SUMO_URL = "https://endpoint4.collection.sumologic.com/receiver/v1/http/ZaVnC4dhaV3uTKlva9kmFaKeToKeN"


def problems(monkeypatch: pytest.MonkeyPatch, **variables: str) -> list[str]:
    for name, value in variables.items():
        monkeypatch.setenv(f"FORWARDER_HTTP__{name.upper()}", value)
    with pytest.raises(ValidationError) as raised:
        HttpSettings()
    return describe_errors(HttpSettings, raised.value)


def test_the_datadog_preset_fills_in_the_documented_defaults() -> None:
    settings = HttpSettings(preset="datadog", api_key="dd-key")
    assert str(settings.url) == "https://http-intake.logs.datadoghq.com/api/v2/logs"
    assert (settings.encoding, settings.batch_max_events, settings.batch_max_bytes) == (
        "json_array",
        1000,
        5_000_000,
    )
    assert auth_headers(settings) == {"DD-API-KEY": "dd-key"}


def test_a_preset_gives_way_to_what_a_person_sets() -> None:
    settings = HttpSettings(
        preset="datadog", url="https://http-intake.logs.datadoghq.eu/api/v2/logs", batch_max_events=200
    )
    assert (settings.url and settings.url.host, settings.batch_max_events) == (
        "http-intake.logs.datadoghq.eu",
        200,
    )
    assert HttpSettings(preset="vector", url="http://vector:8080").encoding == "ndjson"
    assert HttpSettings(preset="logstash", url="http://logstash:8080").encoding == "json_array"
    assert HttpSettings(url="http://intake", encoding="json_array").encoding == "json_array"


def test_above_a_documented_limit_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(monkeypatch, preset="datadog", batch_max_events="2000", batch_max_bytes="6000000") == [
        "FORWARDER_HTTP__BATCH_MAX_EVENTS: datadog takes at most 1000 entries a request",
        "FORWARDER_HTTP__BATCH_MAX_BYTES: datadog takes at most 5000000 bytes a request",
    ]
    assert problems(
        monkeypatch, preset="sumo_logic", url=SUMO_URL, batch_max_bytes="2000000", batch_max_events="1"
    ) == ["FORWARDER_HTTP__BATCH_MAX_BYTES: sumo_logic takes at most 1000000 bytes a request"]


def test_the_url_is_required_without_the_datadog_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(monkeypatch) == [
        "FORWARDER_HTTP__URL: is required (the receiver's address, path included)"
    ]


def test_one_way_to_authenticate_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(
        monkeypatch, url="http://intake", bearer_token="t0ken", api_key="k3y", basic_password="pw"
    )
    assert found == [
        "set only one of FORWARDER_HTTP__BEARER_TOKEN, FORWARDER_HTTP__BASIC_PASSWORD and "
        "FORWARDER_HTTP__API_KEY",
        "FORWARDER_HTTP__BASIC_USER: is required with FORWARDER_HTTP__BASIC_PASSWORD",
    ]
    assert not any(secret in " ".join(found) for secret in ("t0ken", "k3y"))


def test_each_way_to_authenticate_becomes_its_header() -> None:
    bearer = HttpSettings(url="http://intake", bearer_token="t0ken")
    assert auth_headers(bearer) == {"Authorization": "Bearer t0ken"}
    custom = HttpSettings(url="http://intake", api_key="k3y", api_key_header="X-Insert-Key")
    assert auth_headers(custom) == {"X-Insert-Key": "k3y"}
    assert auth_headers(HttpSettings(url="http://intake", basic_user="u", basic_password="p")) == {}


def test_retry_statuses_must_be_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    assert problems(monkeypatch, url="http://intake", retry_statuses="[200, 429]") == [
        "FORWARDER_HTTP__RETRY_STATUSES: only 4xx and 5xx statuses can be retried, not [200]"
    ]


def test_the_sumo_logic_token_in_the_url_is_never_shown() -> None:
    sink = HttpSink(HttpSettings(preset="sumo_logic", url=SUMO_URL))
    assert "ZaVnC4dhaV3uTKlva9kmFaKeToKeN" not in sink.describe()
    assert sink.describe() == (
        "http (raw) to https://endpoint4.collection.sumologic.com:443/receiver/v1/http/…, sumo_logic preset, "
        "ndjson, gzip, system CAs"
    )


def test_ndjson_and_a_json_array_carry_the_documents_as_they_are() -> None:
    documents = [b'{"a":1}', b'{"b":[2,3]}']
    assert body(documents, "ndjson") == b'{"a":1}\n{"b":[2,3]}\n'
    assert body(documents, "json_array") == b'[{"a":1},{"b":[2,3]}]'
    assert orjson.loads(body(documents, "json_array")) == [{"a": 1}, {"b": [2, 3]}]
