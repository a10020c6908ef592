"""Sphinx configuration for the documentation site (`make docs` builds it into docs/_build/html)."""

from __future__ import annotations

project = "cloudflare-siem-forwarder"
author = "cloudflare-siem-forwarder authors"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
# GitHub-style anchors for headings down to ####, so `page.md#a-heading` links work on GitHub and here,
# and a link to a heading that does not exist is a warning (an error under `-W`).
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
html_theme = "alabaster"
html_title = project
# Links to anything outside docs/ (the README, the chart, source files) are written as absolute
# GitHub-relative paths in the pages; Sphinx cannot check those offline, so they are checked by
# tests/unit/test_docs.py instead.
suppress_warnings: list[str] = []
