"""The tests share helpers through `tests/support/`, `fakes/` and `tests/receivers/`: no test module
imports another, and nothing under `tests/` or `fakes/` imports a test module or `benchmarks/`
(benchmarks may use the fakes)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FAKES = TESTS.parent / "fakes"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from tests.unit import test_logs`` imports a test module too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offending_imports(tree: Path) -> list[tuple[str, str]]:
    """(file, module) for each import under ``tree`` of a test module or of the benchmarks."""
    return sorted(
        (str(path.relative_to(tree.parent)), name)
        for path in tree.rglob("*.py")
        for name in imports_of(path)
        if name.split(".")[0] == "benchmarks" or name.rpartition(".")[2].startswith("test_")
    )


def test_no_test_module_imports_another_and_none_imports_the_benchmarks() -> None:
    assert len(list(TESTS.rglob("test_*.py"))) > 50
    assert offending_imports(TESTS) == []


def test_no_fake_imports_a_test_module_or_the_benchmarks() -> None:
    assert len(list(FAKES.rglob("*.py"))) > 20
    assert offending_imports(FAKES) == []


def test_an_import_of_a_test_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(
        "import tests.unit.test_logs\n"
        "def later() -> None:\n"
        "    from benchmarks.soak import main\n"
        "    from tests.support.hec import splunk_hec\n"
        "    from tests.integration import test_helm_chart\n"
    )
    helper = f"{tmp_path.name}/helper.py"
    assert offending_imports(tmp_path) == [
        (helper, "benchmarks.soak"),
        (helper, "benchmarks.soak.main"),
        (helper, "tests.integration.test_helm_chart"),
        (helper, "tests.unit.test_logs"),
    ]
