"""A newcomer's first mistakes get a sentence that names the fix: a misspelt variable, a bad token,
a missing file for `map`; and `demo` writes what a configured file sink writes."""

from __future__ import annotations

from pathlib import Path

import orjson

from fakes.cloudflare import Credential, SimulatorThread
from tests.support.forwarder_runs import cli, cli_env, simulator_config

GOOD = "good-token"
EXPIRED = "expired-token"
TOKENS = [
    Credential(token=GOOD, label="good"),
    Credential(token=EXPIRED, label="expired", status="expired", expires_on="2026-11-01T00:00:00Z"),
]


def run(env: dict[str, str], *arguments: str) -> tuple[int, str, str]:
    process = cli(env, *arguments)
    output, errors = process.communicate(timeout=90)
    return process.returncode, output.decode(), errors.decode()


def test_check_names_a_misspelt_variable_and_fails(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1, credentials=TOKENS)) as simulator:
        env = cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN=GOOD, FORWARDER_STARTAT="7d")
        code, output, _ = run(env, "check")
    assert code == 1
    assert (
        "FAIL environment: FORWARDER_STARTAT is not a variable this forwarder reads, so it changes nothing; "
        "did you mean FORWARDER_START_AT?"
    ) in output.splitlines()
    assert "ok   Cloudflare API token: CLOUDFLARE_API_TOKEN is an active user token, no expiry" in output


def test_once_warns_of_a_misspelt_variable_and_runs(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1, credentials=TOKENS)) as simulator:
        env = cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN=GOOD, FORWARDER_STARTAT="7d")
        code, output, errors = run(env, "once")
    assert code == 0, errors
    warnings = [line for line in map(orjson.loads, output.splitlines()) if line["level"] == "WARNING"]
    assert any("did you mean FORWARDER_START_AT?" in line["message"] for line in warnings), warnings


def test_a_required_variable_misspelt_is_named_with_the_one_meant(tmp_path: Path) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path, FORWARDER_SINKS="splunk_hec")
    env |= {"FORWARDER_SPLUNK_HEC_URL": "https://splunk:8088", "FORWARDER_SPLUNK_HEC__TOKEN": "t"}
    code, _, errors = run(env, "check")
    assert code == 2
    assert "FORWARDER_SPLUNK_HEC__URL: Field required" in errors
    assert "did you mean FORWARDER_SPLUNK_HEC__URL?" in errors


def test_check_tells_a_bad_token_from_a_missing_permission(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1, credentials=TOKENS)) as simulator:
        wrong = run(cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN="no-such-token"), "check")
        expired = run(cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN=EXPIRED), "check")
    code, output, _ = wrong
    assert code == 1
    assert "FAIL Cloudflare API token: CLOUDFLARE_API_TOKEN is not a token Cloudflare knows" in output
    assert "FAIL Cloudflare streams: not read: the token above cannot work" in output
    assert "lacks" not in output
    code, output, _ = expired
    assert code == 1
    assert (
        "FAIL Cloudflare API token: CLOUDFLARE_API_TOKEN (user token) expired on 2026-11-01 00:00 UTC"
        in output
    )
    assert "lacks" not in output


def test_once_with_an_expired_token_says_the_token_expired(tmp_path: Path) -> None:
    with SimulatorThread(simulator_config(hours=1, credentials=TOKENS)) as simulator:
        code, _, errors = run(cli_env(simulator.base_url, tmp_path, CLOUDFLARE_API_TOKEN=EXPIRED), "once")
    assert code == 3
    assert "CLOUDFLARE_API_TOKEN (user token) expired on 2026-11-01 00:00 UTC" in errors


def test_map_of_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file.json"
    code, output, errors = run({}, "map", "--format", "ecs", "--log-type", "access_requests", str(missing))
    assert code == 2
    assert output == ""
    assert errors == f"cloudflare-siem-forwarder: cannot read {missing}: No such file or directory\n"


def test_demo_writes_the_file_sinks_default_format(tmp_path: Path) -> None:
    from forwarder.demo import DEFAULT_FORMAT
    from forwarder.sinks.file import FileSinkSettings

    assert DEFAULT_FORMAT == FileSinkSettings().format == "ecs"
