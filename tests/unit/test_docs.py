"""The documentation site builds without a warning, and no link in it or in the README leads nowhere.

Sphinx (with MyST) checks the links between pages of docs/, anchors included, and turns each broken one
into a warning, which ``-W`` makes an error. The README is not part of the site (GitHub shows it), so its
relative links are checked here: the file exists and, for a Markdown page, so does the heading.
Links to other sites are not fetched (the tests run offline); there are none in docs/ today.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading, which MyST's ``myst_heading_anchors`` also makes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(match) for match in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    return broken


def test_the_site_builds_without_a_warning(tmp_path: Path) -> None:
    strict = ["-W", "--keep-going", "-n", "-q"]
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", *strict, "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "configuration.html").exists()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """The check above can fail: a page linking to a missing heading is refused."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    (source / "index.md").write_text(
        "# Home\n\nSee [there](other.md#no-such-heading).\n\n```{toctree}\nother\n```\n"
    )
    (source / "other.md").write_text("# Other\n")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", str(source), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode != 0
    assert "no-such-heading" in build.stderr


def test_every_relative_link_of_the_readme_and_the_guides_leads_somewhere() -> None:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = {str(page.relative_to(ROOT)): broken_links(page) for page in pages if page.exists()}
    assert len(found) > 10
    assert {page: links for page, links in found.items() if links} == {}


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text("[a](there.md#a-heading) [b](there.md#missing) [c](gone.md) [d](https://example.com)\n")
    assert broken_links(page) == ["there.md#missing: no such heading", "gone.md: no such file"]
