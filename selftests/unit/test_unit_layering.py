"""Layering: who may import whom, read from the source with `ast` (nothing is imported).

- the modules of `src/phasegate` import each other without a cycle (imports inside functions
  count: a lazy import still ties two modules together);
- only the pytest adapters import pytest; the rest is a plain library any program can use;
- nothing imports `phasegate.plugin`: pytest loads it through the entry point;
- checks (`tests/`) never import the plugin's internals: they ask for fixtures.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
CHECKS = ROOT / "tests"

# The modules that are pytest adapters, and the launcher that runs pytest for `phasegate gate`.
PYTEST_ADAPTERS = frozenset(
    {
        "phasegate.plugin",
        "phasegate.liveness_plugin",
        "phasegate.fixtures",
        "phasegate.runstate",
        "phasegate.cli",
    }
)
# What the plugin keeps for itself; a check gets the same through fixtures.
PLUGIN_INTERNALS = ("phasegate.plugin", "phasegate.runstate")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, package: str, modules: Iterable[str] = ()) -> Iterator[str]:
    """Every dotted name a file imports; relative imports resolved against its package.

    `from a import b` names `a.b` when that is one of `modules` (a submodule), else `a`; a
    package's own `__init__` counts only when a name is taken from it, as Python resolves it.
    """
    known = set(modules)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in known else base


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {
            target
            for target in imported_names(path, package, files)
            if target in files and target != name
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def importers_of(root: Path, wanted: tuple[str, ...]) -> dict[str, list[str]]:
    """File (relative to `root`) -> the names it imports that are, or lie in, one of `wanted`."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        names = {
            name
            for name in imported_names(path, module_name(path, root).rpartition(".")[0])
            if any(name == w or name.startswith(f"{w}.") for w in wanted)
        }
        if names:
            found[str(path.relative_to(root))] = sorted(names)
    return found


def test_src_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(SRC)
    assert "phasegate.plugin" in graph and "phasegate.fixtures" in graph
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_only_the_pytest_adapters_import_pytest() -> None:
    importers = {module_name(SRC / path, SRC) for path in importers_of(SRC, ("pytest", "_pytest"))}
    assert importers == PYTEST_ADAPTERS


def test_nothing_imports_the_plugin() -> None:
    assert importers_of(SRC, ("phasegate.plugin",)) == {}


def test_checks_never_import_plugin_internals() -> None:
    assert importers_of(CHECKS, PLUGIN_INTERNALS) == {}


# -- the rules above can fail ----------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "files",
    [
        {  # the cycle this rule was written against: a lazy import back into the plugin
            "pkg/__init__.py": "",
            "pkg/plugin.py": "def hook():\n    from pkg.fixtures import EVIDENCE\n",
            "pkg/fixtures.py": "def fixture():\n    from pkg.plugin import state_of\n",
        },
        {  # through a package and a relative import
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "from .c import thing\n",
            "pkg/c.py": "import pkg.a\n",
        },
    ],
)
def test_a_cycle_is_found(tmp_path: Path, files: dict[str, str]) -> None:
    cycle = find_cycle(import_graph(_tree(tmp_path, files)))
    assert cycle is not None and len(cycle) >= 3  # graphlib repeats the first node at the end


def test_an_acyclic_tree_passes(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import os\n"},
    )
    assert import_graph(root) == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycle(import_graph(root)) is None


def test_an_import_of_plugin_internals_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "checks/conftest.py": "from phasegate.runstate import META\n",
            "checks/test_x.py": "def test():\n    import phasegate.plugin\n",
            "checks/test_ok.py": "from phasegate.fixtures import PROJECTS_ROOT\n",
        },
    )
    assert importers_of(root, PLUGIN_INTERNALS) == {
        "checks/conftest.py": ["phasegate.runstate"],
        "checks/test_x.py": ["phasegate.plugin"],
    }
