"""The chart's `env`: a map or an EnvVar list (Vector's and Fluent Bit's form), and typos refused.

values.schema.json refuses a FORWARDER_* or CLOUDFLARE_* name the forwarder does not read, in either
form of `env`, in `extraEnv` and as a credentials key; its list of names is generated from the
settings models by scripts/chart_env_schema.py (`make docs`), and a test here fails when it is stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from forwarder.env_reference import reference
from scripts.chart_env_schema import DEFINITION, SCHEMA, forwarder_variables, fresh_schema
from tests.integration.helm_chart_support import (
    Manifest,
    forwarder_containers,
    helm_tree,
    rendered,
    run,
    validation_problems,
)

__all__ = ["helm_tree"]

CHART = "helm/cloudflare-siem-forwarder"
TEMPLATE = f"helm template cloudflare-siem-forwarder {CHART}"
LINT = f"helm lint --strict {CHART}"
REFUSED = "not a variable of the forwarder: see cloudflare-siem-forwarder env-reference"

# One environment in both spellings: a string, a whole number, a boolean, an OpenTelemetry variable.
AS_MAP: dict[str, Any] = {
    "FORWARDER_POLL_INTERVAL": "30s",
    "FORWARDER_DEAD_LETTER_MAX_BYTES": 100000000,
    "FORWARDER_ELASTICSEARCH__GZIP": False,
    "OTEL_SERVICE_NAME": "cloudflare-siem-forwarder",
}
AS_LIST: list[dict[str, Any]] = [{"name": name, "value": value} for name, value in AS_MAP.items()]
FROM_A_CONFIGMAP: dict[str, Any] = {
    "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "valueFrom": {"configMapKeyRef": {"name": "otel-collector", "key": "endpoint"}},
}


def values_file(directory: Path, values: dict[str, Any], name: str = "values.yaml") -> str:
    path = directory / name
    path.write_text(yaml.safe_dump(values))
    return str(path)


def forwarder_container(root: Path, values: dict[str, Any], directory: Path) -> Manifest:
    (container,) = forwarder_containers(rendered(root, TEMPLATE, "-f", values_file(directory, values)))
    return container


def test_the_schemas_list_of_variables_is_the_settings_models() -> None:
    current = SCHEMA.read_text(encoding="utf-8")
    assert fresh_schema() == current, "values.schema.json's list of variables is stale: run `make docs`"
    listed = set(json.loads(current)["definitions"][DEFINITION]["enum"])
    # The same names as the reference docs/configuration.md prints, each also as <NAME>_FILE.
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", reference(), flags=re.MULTILINE))
    assert documented
    assert listed == documented | {f"{name}_FILE" for name in documented}
    assert listed == set(forwarder_variables())
    assert {"FORWARDER_START_AT", "CLOUDFLARE_API_TOKEN_FILE", "FORWARDER_SPLUNK_HEC__URL"} <= listed
    assert not {"FORWARDER_STARTAT", "FORWARDER_SPLUNK_HEC_URL"} & listed


def test_a_map_and_a_list_give_the_same_container(helm_tree: Path, tmp_path: Path) -> None:
    from_map = forwarder_container(helm_tree, {"env": AS_MAP}, tmp_path)
    from_list = forwarder_container(helm_tree, {"env": AS_LIST}, tmp_path)
    assert from_map == from_list
    variables = {item["name"]: item for item in from_list["env"]}
    assert variables["FORWARDER_DEAD_LETTER_MAX_BYTES"] == {
        "name": "FORWARDER_DEAD_LETTER_MAX_BYTES",
        "value": "100000000",
    }
    assert variables["FORWARDER_ELASTICSEARCH__GZIP"]["value"] == "false"
    assert variables["OTEL_SERVICE_NAME"]["value"] == "cloudflare-siem-forwarder"


def test_a_list_passes_value_from_through_after_the_values(helm_tree: Path, tmp_path: Path) -> None:
    container = forwarder_container(helm_tree, {"env": [*AS_LIST, FROM_A_CONFIGMAP]}, tmp_path)
    assert container["env"][-1] == FROM_A_CONFIGMAP
    names = [item["name"] for item in container["env"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("env", [AS_MAP, [*AS_LIST, FROM_A_CONFIGMAP]], ids=["map", "list"])
def test_either_form_lints_and_validates_strictly(helm_tree: Path, tmp_path: Path, env: Any) -> None:
    path = values_file(tmp_path, {"env": env})
    result = run(helm_tree, LINT, "-f", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout
    assert not validation_problems(rendered(helm_tree, TEMPLATE, "-f", path), set())


TYPOS: list[tuple[str, dict[str, Any], str]] = [
    ("map", {"env": {"FORWARDER_STARTAT": "7d"}}, "FORWARDER_STARTAT"),
    ("list", {"env": [{"name": "FORWARDER_STARTAT", "value": "7d"}]}, "FORWARDER_STARTAT"),
    (
        "list with valueFrom",
        {"env": [{"name": "FORWARDER_SPLUNK_HEC_URL", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
        "FORWARDER_SPLUNK_HEC_URL",
    ),
    (
        "one underscore",
        {"env": {"FORWARDER_SPLUNK_HEC_URL": "https://splunk:8088"}},
        "FORWARDER_SPLUNK_HEC_URL",
    ),
    (
        "cloudflare",
        {"env": {"CLOUDFLARE_ACCOUNT_ID": "023e105f4ecef8ad9ca31a8372d0c353"}},
        "CLOUDFLARE_ACCOUNT_ID",
    ),
    (
        "extraEnv",
        {"extraEnv": [{"name": "FORWARDER_STARTAT", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
        "FORWARDER_STARTAT",
    ),
    ("a credentials key", {"credentials": {"values": {"CLOUDFLARE_API_TOKN": "abc"}}}, "CLOUDFLARE_API_TOKN"),
    (
        "an existing Secret's key",
        {"credentials": {"existingSecret": "cf", "existingSecretKeys": ["CLOUDFLARE_TOKEN"]}},
        "CLOUDFLARE_TOKEN",
    ),
]


@pytest.mark.parametrize(("values", "name"), [typo[1:] for typo in TYPOS], ids=[typo[0] for typo in TYPOS])
@pytest.mark.parametrize("command", [TEMPLATE, LINT], ids=["template", "lint"])
def test_a_misspelt_variable_is_a_schema_error_naming_it(
    helm_tree: Path, tmp_path: Path, command: str, values: dict[str, Any], name: str
) -> None:
    result = run(helm_tree, command, "-f", values_file(tmp_path, values))
    assert result.returncode != 0, f"{name} was accepted"
    output = result.stdout + result.stderr
    assert "don't meet the specifications of the schema" in output
    assert f"'{name}' does not match pattern '^({REFUSED})$'" in output, output
    if command == TEMPLATE:
        assert not result.stdout.strip(), "nothing may be rendered from bad values"


ACCEPTED: dict[str, Any] = {
    # The forwarder's own, a _FILE variant, OpenTelemetry's, and names outside its namespaces.
    "CLOUDFLARE_EMAIL": "security@example.com",
    "FORWARDER_SCIM_IDP_IDS_FILE": "/etc/forwarder/idps",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
    "OTEL_METRICS_EXPORTER": "none",
    "SSL_CERT_FILE": "/etc/ssl/private-ca.pem",
    "TZ": "UTC",
}


def test_every_variable_the_forwarder_reads_and_any_outside_its_namespaces_pass(
    helm_tree: Path, tmp_path: Path
) -> None:
    container = forwarder_container(helm_tree, {"env": ACCEPTED}, tmp_path)
    variables = {item["name"]: item.get("value") for item in container["env"]}
    assert ACCEPTED.items() <= variables.items()


MISUSED_LISTS: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "a name twice",
        [
            {"name": "FORWARDER_POLL_INTERVAL", "value": "30s"},
            {"name": "FORWARDER_POLL_INTERVAL", "value": "1m"},
        ],
        "env lists FORWARDER_POLL_INTERVAL twice: set it once",
    ),
    (
        "value and valueFrom",
        [{**FROM_A_CONFIGMAP, "value": "http://otel-collector:4318"}],
        "env: OTEL_EXPORTER_OTLP_ENDPOINT has both value and valueFrom: set one",
    ),
    (
        "a value the chart owns",
        [{"name": "FORWARDER_HEALTH_PORT", "value": "9000"}],
        "env.FORWARDER_HEALTH_PORT: set forwarder.healthPort instead",
    ),
    (
        "a credential in plain text",
        [{"name": "CLOUDFLARE_API_TOKEN", "value": "abc"}],
        "env.CLOUDFLARE_API_TOKEN looks like a credential",
    ),
    (
        "valueFrom for a value the chart owns",
        [{"name": "FORWARDER_SHARDS", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}],
        "env.FORWARDER_SHARDS: set sharding.shards instead",
    ),
    (
        "valueFrom for a value set by a value of its own",
        [{"name": "FORWARDER_SINKS", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}],
        "FORWARDER_SINKS is set with valueFrom (env or extraEnv) and by env or a value of its own too",
    ),
]


@pytest.mark.parametrize(
    ("env", "message"), [case[1:] for case in MISUSED_LISTS], ids=[case[0] for case in MISUSED_LISTS]
)
def test_a_list_is_held_to_the_rules_of_the_map(
    helm_tree: Path, tmp_path: Path, env: list[dict[str, Any]], message: str
) -> None:
    result = run(helm_tree, TEMPLATE, "-f", values_file(tmp_path, {"env": env}))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not result.stdout.strip()


def test_a_credential_from_a_secret_key_ref_conflicts_with_the_credentials_secret(
    helm_tree: Path, tmp_path: Path
) -> None:
    secret_ref = {"secretKeyRef": {"name": "cloudflare", "key": "token"}}
    values = {
        "credentials": {"values": {"CLOUDFLARE_API_TOKEN": "abc"}},
        "env": [{"name": "CLOUDFLARE_API_TOKEN", "valueFrom": secret_ref}],
    }
    result = run(helm_tree, TEMPLATE, "-f", values_file(tmp_path, values))
    assert result.returncode != 0
    assert "CLOUDFLARE_API_TOKEN is both a credentials key and set with valueFrom" in result.stderr
    # Alone, a secretKeyRef is no secret in plain text: it is accepted.
    alone = forwarder_container(helm_tree, {"env": values["env"]}, tmp_path)
    assert {"name": "CLOUDFLARE_API_TOKEN", "valueFrom": secret_ref} in alone["env"]
