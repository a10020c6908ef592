"""The README's configuration reference is generated from the settings models: it cannot drift."""

from __future__ import annotations

from pathlib import Path

from forwarder.env_reference import BEGIN, END, reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_env_reference_matches_the_settings_models() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    # Compared as a flag: a diff of the whole reference would drown the message.
    fresh = block == "\n" + reference()
    assert fresh, "README.md's configuration reference is stale: run `make docs`"


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = reference()
    variables = ("CLOUDFLARE_API_TOKEN", "FORWARDER_ACCOUNT_IDS", "FORWARDER_SINKS", "FORWARDER_FILE__PATH")
    for variable in variables:
        assert f"`{variable}`" in documented


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:600]
    assert "make demo" in head
    assert "make test" in head
