"""Log lines: JSON with the trace id for collectors, text for a terminal, never a secret."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from forwarder.logs import config_summary, configure, forwarding_stream, settings_summary
from forwarder.settings import Config, Settings, SinkConfig
from forwarder.sinks.file import FileSink, FileSinkSettings

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-token-that-must-never-be-printed"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def settings(**overrides: object) -> Settings:
    options: dict[str, object] = {
        "cloudflare_api_token": TOKEN,
        "account_ids": [ACCOUNT],
        "cloudflare_api_base_url": "https://user:hunter2@proxy.example/client/v4",
    } | overrides
    return Settings(**options)  # type: ignore[arg-type]


def test_a_json_line_has_the_fields_and_the_trace_id_of_its_span() -> None:
    stream = io.StringIO()
    configure("INFO", fmt="json", stream=stream)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("poll window") as span:
        logging.getLogger("forwarder.x").warning(
            "sink failing, retrying", extra={"sink": "file", "attempt": 2}
        )
    logging.getLogger("forwarder.x").info("caught up", extra={"events": {"a/b": 3}, "path": Path("/x")})
    logging.getLogger("forwarder.x").debug("not printed at INFO")
    first, second = lines(stream)
    context = span.get_span_context()
    assert first["trace_id"] == format(context.trace_id, "032x")
    assert first["span_id"] == format(context.span_id, "016x")
    assert {key: first[key] for key in ("level", "logger", "message", "sink", "attempt")} == {
        "level": "WARNING",
        "logger": "forwarder.x",
        "message": "sink failing, retrying",
        "sink": "file",
        "attempt": 2,
    }
    assert str(first["time"]).endswith("+00:00")
    assert "trace_id" not in second
    assert second["events"] == {"a/b": 3}
    assert second["path"] == "/x"


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    stream = io.StringIO()
    configure("INFO", fmt="json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError as error:
        logging.getLogger("forwarder").error("unexpected failure", exc_info=error)
    (line,) = lines(stream)
    assert "ValueError: boom" in str(line["exception"])


def test_fields_that_name_a_secret_are_redacted_and_urls_lose_their_credentials() -> None:
    stream = io.StringIO()
    configure("INFO", fmt="json", stream=stream)
    logging.getLogger("forwarder").info(
        "oops",
        extra={
            "token": TOKEN,
            "api_key": SecretStr(TOKEN),
            "value": SecretStr(TOKEN),
            "url": "https://elastic:changeme@es.example:9200/_bulk",
        },
    )
    text = stream.getvalue()
    assert TOKEN not in text
    assert "changeme" not in text
    (line,) = lines(stream)
    assert line["token"] == line["api_key"] == line["value"] == "[redacted]"
    assert line["url"] == "https://[redacted]@es.example:9200/_bulk"


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    terminal = Terminal()
    configure("INFO", fmt="auto", stream=terminal)
    logging.getLogger("forwarder").info("backfill progress", extra={"stream": "a/b", "seconds_left": 3})
    assert (
        terminal.getvalue().rstrip().endswith("INFO forwarder: backfill progress stream=a/b seconds_left=3")
    )
    piped = io.StringIO()
    configure("INFO", fmt="auto", stream=piped)
    logging.getLogger("forwarder").info("backfill progress")
    assert lines(piped)[0]["message"] == "backfill progress"
    forced = Terminal()
    configure("INFO", fmt="json", stream=forced)
    logging.getLogger("forwarder").info("x")
    assert lines(forced)[0]["message"] == "x"


def test_logs_leave_standard_output_to_the_file_sink_when_it_writes_there() -> None:
    to_stdout = SinkConfig(FileSink, FileSinkSettings(path="-"))
    to_file = SinkConfig(FileSink, FileSinkSettings(path="/tmp/events.ndjson"))
    assert forwarding_stream(Config(settings(), (to_stdout,))) is sys.stderr
    assert forwarding_stream(Config(settings(), (to_file,))) is sys.stdout


def test_the_configuration_summary_names_variables_and_hides_secrets() -> None:
    summary = config_summary(Config(settings(), (SinkConfig(FileSink, FileSinkSettings(path="-")),)))
    assert summary["CLOUDFLARE_API_TOKEN"] == "(set)"
    assert summary["CLOUDFLARE_API_KEY"] is None
    assert summary["FORWARDER_ACCOUNT_IDS"] == [ACCOUNT]
    assert summary["FORWARDER_LOG_TYPES"] == ["access_requests", "scim_updates"]
    assert summary["FORWARDER_FILE__PATH"] == "-"
    assert summary["CLOUDFLARE_API_BASE_URL"] == "https://[redacted]@proxy.example/client/v4"
    dumped = orjson.dumps(summary).decode()
    assert TOKEN not in dumped
    assert "hunter2" not in dumped


def test_a_sink_secret_is_only_said_to_be_set() -> None:
    from forwarder.sinks.splunk_hec.settings import SplunkHecSettings

    hec = SplunkHecSettings(url="https://hec.example:8088", token=TOKEN)
    summary = settings_summary(hec)
    assert summary["FORWARDER_SPLUNK_HEC__TOKEN"] == "(set)"
    assert TOKEN not in orjson.dumps(summary).decode()
