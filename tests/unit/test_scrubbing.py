"""No secret leaves: credentials checked at load, one scrubber for logs, `check`, /status and /readyz."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from forwarder.app import Forwarder, Parts
from forwarder.check import Report
from forwarder.checkpoints.memory import MemoryCheckpointStore
from forwarder.logs import configure
from forwarder.scrubbing import REDACTED, Scrubber
from forwarder.settings import Config, Settings, SinkConfig
from forwarder.settings.loading import describe_errors
from forwarder.sinks.file import FileSink, FileSinkSettings
from tests.support.memory_sink import MemorySink

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "Zx9-cloudflare-token-0123456789abcdefABCDEF"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def config(**overrides: Any) -> Config:
    options: dict[str, Any] = {
        "cloudflare_api_token": TOKEN,
        "cloudflare_api_base_url": "http://127.0.0.1:9",
        "account_ids": [ACCOUNT],
    } | overrides
    sink = SinkConfig(FileSink, FileSinkSettings(path="-"))
    return Config(Settings(**options), (sink,))


@pytest.mark.parametrize(
    "spelling",
    [
        TOKEN,
        f'"Bearer {TOKEN}"',
        f"b'Bearer {TOKEN}\\n'",  # httpx's LocalProtocolError quotes the header as bytes
        httpx.URL("https://x/?t=" + TOKEN + "/+").params["t"],
    ],
)
def test_a_configured_secret_is_scrubbed_in_any_spelling(spelling: str) -> None:
    scrubber = Scrubber.from_config(config())
    assert "0123456789abcdefABCDEF" not in scrubber.text(f"failed: {spelling}")


def test_a_password_with_url_special_characters_is_scrubbed_encoded_too() -> None:
    password = "p@ss/w+rd 42"
    scrubber = Scrubber([password])
    for text in (password, "p%40ss%2Fw%2Brd%2042", "p%40ss%2Fw%2Brd+42"):
        assert scrubber.text(f"x {text} y") == f"x {REDACTED} y"


def test_url_user_information_is_scrubbed_whoever_wrote_it() -> None:
    scrubber = Scrubber()
    assert scrubber.text("POST https://elastic:s3cret@es.example:9200/_bulk") == (
        f"POST https://{REDACTED}@es.example:9200/_bulk"
    )


def test_a_log_line_never_carries_the_token_even_from_a_library_message() -> None:
    stream = io.StringIO()
    configure("INFO", fmt="json", stream=stream, scrubber=Scrubber.from_config(config()))
    error = httpx.LocalProtocolError(f"Illegal header value b'Bearer {TOKEN}\\n'")
    logging.getLogger("forwarder.x").warning(
        "Cloudflare request failed, retrying", extra={"reason": str(error), "url": "http://u:pw1234@h/x"}
    )
    try:
        raise RuntimeError(f"while sending {TOKEN}")
    except RuntimeError:
        logging.getLogger("forwarder.x").exception("unexpected")
    output = stream.getvalue()
    assert TOKEN not in output
    assert "pw1234" not in output
    assert [orjson.loads(line)["message"] for line in output.splitlines()] == [
        "Cloudflare request failed, retrying",
        "unexpected",
    ]


def test_check_output_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    Report(Scrubber.from_config(config())).say(False, "Cloudflare", f"Illegal header value b'Bearer {TOKEN}'")
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert out.startswith("FAIL Cloudflare: Illegal header value b'Bearer [redacted]'")


def test_status_and_readyz_are_scrubbed() -> None:
    from forwarder.telemetry.status import StatusBoard

    built = Forwarder.build(config(), Parts(sinks=[MemorySink()], checkpoints=MemoryCheckpointStore()))
    built.client.last_error = f"cannot reach https://user:pw5678@proxy/ with Bearer {TOKEN}"
    board = StatusBoard(built)
    text = orjson.dumps(board.snapshot()).decode() + "\n".join(board.readiness())
    assert TOKEN not in text
    assert "pw5678" not in text
    assert REDACTED in text


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is set but empty"),
        ("   \n", "is set but empty"),
        ("abc def-123456", "holds whitespace (character 4 of 14"),
        ("abcdef\x01123", "holds a control character (character 7 of 10"),
        ("abc\tdef", "holds a control character (character 4 of 7"),
    ],
)
@pytest.mark.parametrize("variable", ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY"])
def test_a_broken_credential_is_a_config_error_that_names_the_variable_not_the_value(
    variable: str, value: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "a@example.com")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Settings()
    problems = describe_errors(Settings, caught.value)
    mine = [problem for problem in problems if problem.startswith(variable)]
    assert len(mine) == 1
    assert words in mine[0]
    if value.strip():
        assert value.strip() not in "\n".join(problems)


def test_surrounding_whitespace_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", f"  {TOKEN}\n")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", ACCOUNT)
    token = Settings().cloudflare_api_token
    assert isinstance(token, SecretStr)
    assert token.get_secret_value() == TOKEN
