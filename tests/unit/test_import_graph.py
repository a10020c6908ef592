"""Data flows one way: no import cycles among the modules of ``forwarder/``, and the fakes stay apart.

Every import counts, including those under ``if TYPE_CHECKING:`` and those inside functions: a
cycle hidden from the interpreter still ties the modules together for a reader and for a refactor.

The fakes (``fakes/``) are test equipment: the product imports them only for ``demo``, the Cloudflare
simulator owes nothing to the code it tests, and no fake reaches into ``tests/`` or ``benchmarks/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "forwarder"
REPOSITORY = Path(__file__).resolve().parents[2]
ROOT = REPOSITORY / PACKAGE
FAKES = REPOSITORY / "fakes"
# What a fake may import from the product because the two share it by contract, and why: nothing
# today. A fake written from the documented protocol catches a product that misreads it; one built on
# the product's own code would agree with the product's mistakes.
FAKES_MAY_IMPORT: dict[str, str] = {}


def module_name(path: Path) -> str:
    """``forwarder/a/b.py`` is ``forwarder.a.b``; a package's ``__init__.py`` is the package itself."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported_modules(tree: ast.Module, module: str, is_package: bool, modules: set[str]) -> Iterator[str]:
    """The modules of ``forwarder/`` that ``module`` imports, relative imports resolved.

    ``from forwarder.x import y`` is ``forwarder.x.y`` when that is a module, else ``forwarder.x``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from nearest(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield from [submodule] if submodule in modules else nearest(base, modules)


def nearest(name: str, modules: set[str]) -> Iterator[str]:
    """The module of ``forwarder/`` that ``name`` names, or the nearest one enclosing it."""
    while name:
        if name in modules:
            yield name
            return
        name = name.rpartition(".")[0]


def import_graph() -> dict[str, set[str]]:
    modules = find_modules()
    names = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported = imported_modules(tree, module, path.name == "__init__.py", names)
        # A package's __init__ importing its own package's names is no cycle.
        graph[module] = {target for target in imported if target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(graph[start]))))
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    # A sanity check that the walk found modules and their imports, so an empty graph cannot pass.
    assert "forwarder.cli" in graph
    assert "forwarder.records" in graph["forwarder.pipeline.fan_out"]


def test_every_kind_of_import_is_an_edge() -> None:
    source = """
from typing import TYPE_CHECKING
import forwarder.a.b
from forwarder.c import d, name_in_c
from . import e

if TYPE_CHECKING:
    from forwarder.f import Thing

def later() -> None:
    from .g import helper
"""
    modules = {"forwarder", "forwarder.a", "forwarder.a.b", "forwarder.c", "forwarder.c.d"}
    modules |= {"forwarder.x", "forwarder.x.e", "forwarder.x.g", "forwarder.f", "forwarder.x.here"}
    found = set(imported_modules(ast.parse(source), "forwarder.x.here", False, modules))
    assert found == {
        "forwarder.a.b",
        "forwarder.c.d",
        "forwarder.c",
        "forwarder.x.e",
        "forwarder.f",
        "forwarder.x.g",
    }


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}}
    assert cycles(graph) == [["a", "b", "c"], ["e", "f"]]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in forwarder/:\n" + "\n".join(
        f"  {len(component)} modules: {', '.join(component)}" for component in found
    )


def absolute_imports(path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute imports; the trees checked here use no others)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import; these checks read absolute ones only"
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def importers_of(tree: Path, top: str) -> dict[str, list[str]]:
    """The files under ``tree`` that import anything of package ``top``, with what they import."""
    offending: dict[str, list[str]] = {}
    for path in sorted(tree.rglob("*.py")):
        names = sorted(name for name in absolute_imports(path) if name.split(".")[0] == top)
        if names:
            offending[str(path.relative_to(REPOSITORY))] = names
    return offending


def test_the_import_reader_sees_imports_inside_functions() -> None:
    # So that the checks below cannot pass by reading nothing: demo imports the simulator.
    assert "fakes.cloudflare.server.Simulator" in absolute_imports(ROOT / "demo.py")
    assert any(name.startswith("aiohttp") for name in absolute_imports(FAKES / "serving.py"))


def test_the_product_imports_the_fakes_only_for_demo() -> None:
    assert list(importers_of(ROOT, "fakes")) == ["forwarder/demo.py"]


def test_the_cloudflare_simulator_imports_nothing_of_the_product() -> None:
    assert importers_of(FAKES / "cloudflare", PACKAGE) == {}


def test_the_other_fakes_import_of_the_product_only_what_they_share_by_contract() -> None:
    unexplained = {
        path: [name for name in names if name not in FAKES_MAY_IMPORT]
        for path, names in importers_of(FAKES, PACKAGE).items()
    }
    assert {path: names for path, names in unexplained.items() if names} == {}


def test_no_fake_imports_the_tests_or_the_benchmarks() -> None:
    assert importers_of(FAKES, "tests") == {}
    assert importers_of(FAKES, "benchmarks") == {}
