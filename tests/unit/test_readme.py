"""The configuration reference (docs/configuration.md) is generated from the settings models: it cannot
drift. The README stays a front page that opens with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

from forwarder.env_reference import BEGIN, END, reference

README = Path(__file__).resolve().parents[2] / "README.md"
REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
PACKAGE = Path(__file__).resolve().parents[2] / "forwarder"
# A whole variable name; a prefix such as `FORWARDER_SYSLOG__` ends in `_` and is left out.
VARIABLE = re.compile(r"\b(?:FORWARDER|CLOUDFLARE)_[A-Z0-9_]*[A-Z0-9]\b")


def test_the_env_reference_matches_the_settings_models() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    # Compared as a flag: a diff of the whole reference would drown the message.
    fresh = block == "\n" + reference()
    assert fresh, "docs/configuration.md is stale: run `make docs`"


def test_every_variable_the_code_names_is_documented() -> None:
    """A variable named in a message or a lookup anywhere in the package is in the reference: a
    misspelt name in an error message, or a setting read outside the models, fails here."""
    documented = reference()
    named = {
        (match.group(0), str(path.relative_to(PACKAGE.parent)))
        for path in PACKAGE.rglob("*.py")
        for match in VARIABLE.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(named) > 50
    assert sorted((name, where) for name, where in named if f"`{name}`" not in documented) == []


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:600]
    assert "make demo" in head
    assert "make test" in head


def test_the_readme_is_a_front_page() -> None:
    """The full reference lives in docs/; the README stays short enough to read in a minute or two."""
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250
