"""Data flows one way: the source hands records to the pipeline without knowing it.

The checkpointer lives in the pipeline and reads acknowledgements; the source only sees the
``Outlet`` protocol it declares itself. Every import counts, also those inside functions and under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "forwarder" / "source"
DOWNSTREAM = ("forwarder.pipeline", "forwarder.checkpoints", "forwarder.app", "forwarder.runner")


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_walk_sees_the_imports_of_the_streams() -> None:
    # So that an empty walk cannot pass the test below.
    assert "forwarder.source.paging" in imported_names(SOURCE / "streams.py")


def test_the_source_imports_nothing_of_the_pipeline_the_stores_or_the_app() -> None:
    found = {
        f"{path.name}: {name}"
        for path in sorted(SOURCE.glob("*.py"))
        for name in imported_names(path)
        if name.startswith(DOWNSTREAM)
    }
    assert not found, "the source reaches downstream:\n" + "\n".join(sorted(found))
