"""``forwarder/telemetry/`` keeps providers, exporters and endpoints: it reads the components through
protocols and imports none of them. The instruments live beside their owners and import telemetry."""

from __future__ import annotations

import ast
from pathlib import Path

TELEMETRY = Path(__file__).resolve().parents[2] / "forwarder" / "telemetry"
COMPONENTS = (
    "forwarder.source",
    "forwarder.sinks",
    "forwarder.pipeline",
    "forwarder.runner",
    "forwarder.builders",
    "forwarder.cli",
)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, in functions and under ``if TYPE_CHECKING:`` too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: a relative import hides what it reaches"
            found.add(node.module or "")
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_telemetry_imports_none_of_the_components_it_reports_on() -> None:
    modules = sorted(TELEMETRY.glob("*.py"))
    assert {path.name for path in modules} >= {"providers.py", "exporters.py", "readings.py", "status.py"}
    offending = sorted(
        (path.name, name)
        for path in modules
        for name in imported(path)
        if any(name == component or name.startswith(f"{component}.") for component in COMPONENTS)
    )
    assert offending == []
