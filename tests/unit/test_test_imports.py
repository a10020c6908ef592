"""The tests share helpers through `tests/support/`, `fakes/` and `tests/receivers/`: no test module
imports another, and nothing under `tests/` imports `benchmarks/` (benchmarks may use the fakes)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_test_module_imports_another_and_none_imports_the_benchmarks() -> None:
    offending = sorted(
        (str(path.relative_to(TESTS.parent)), name)
        for path in TESTS.rglob("*.py")
        for name in imports_of(path)
        if name.split(".")[0] == "benchmarks" or name.rpartition(".")[2].startswith("test_")
    )
    assert len(list(TESTS.rglob("test_*.py"))) > 50
    assert offending == []
