"""The rooms of docs/architecture.md hold: every module's imports (read with ast, not run) point the
way the layout table says, no two modules import each other round a cycle, and the table lists
every package. Imports under ``if TYPE_CHECKING:`` are exempt: they never run."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ctibridge"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

ADAPTERS = frozenset({"ami", "gws", "store", "hub", "logs", "identity"})
ABOVE_ADAPTERS = frozenset({"service", "web", "lab", "cli"})
SIM_MAY_IMPORT = frozenset({"core", "gateway", "sim"})

Graph = dict[str, set[str]]  # module -> the modules of its own package it imports


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skipped


def imports_of(path: Path, package: Path, modules: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every module ``path`` imports (functions' bodies too), relative imports made absolute.
    ``from pkg import name`` imports ``pkg.name`` when that is one of ``modules``, else ``pkg``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    here = module_name(path, package).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # a module's relative imports start from its package
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
                    if node.level else str(node.module))
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base


def import_graph(package: Path) -> Graph:
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    modules = frozenset(paths)
    return {name: {m for m in imports_of(path, package, modules) if m in modules and m != name}
            for name, path in paths.items()}


def third_party(package: Path) -> dict[str, set[str]]:
    """module -> the top-level names it imports that are neither stdlib nor the package itself."""
    own = package.name
    out: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        tops = {m.split(".")[0] for m in imports_of(path, package)}
        out[module_name(path, package)] = {t for t in tops if t != own and t not in sys.stdlib_module_names}
    return out


def room(module: str) -> str:
    """``ctibridge.core.model`` -> ``core``; the command line (``cli``, ``__main__``) is ``cli``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    return "cli" if parts[1] in ("cli", "__main__") else parts[1]


def layer_violations(graph: Graph, external: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        here = room(module)
        if here == "core" and external.get(module):
            found.append(f"{module} imports {sorted(external[module])}: the core imports only the stdlib")
        for target in sorted(targets):
            there = room(target)
            if here == "core" and there != "core":
                found.append(f"{module} -> {target}: the core imports only the core")
            elif here in ADAPTERS and there in ABOVE_ADAPTERS:
                found.append(f"{module} -> {target}: an adapter never imports {there}")
            elif here == "service" and there in ABOVE_ADAPTERS - {"service"}:
                found.append(f"{module} -> {target}: the application layer never imports {there}")
            elif here == "sim" and there not in SIM_MAY_IMPORT:
                found.append(f"{module} -> {target}: the simulators import only core, gateway and sim")
    return found


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


# --------------------------------------------------------------------------- the real tree


def test_every_import_points_the_way_the_layout_says() -> None:
    assert layer_violations(import_graph(PACKAGE), third_party(PACKAGE)) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph(PACKAGE)) == []


def test_the_room_table_lists_every_package() -> None:
    table = ARCHITECTURE.read_text(encoding="utf-8").split("| path |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `ctibridge/([\w.]+)/?`", table, re.MULTILINE))
    listed |= set(re.findall(r"`ctibridge/([\w]+\.py)`", table))
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    modules = {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    missing = (packages | modules) - listed
    assert not missing, f"not in the room table: {sorted(missing)}"


# --------------------------------------------------------------------------- the checks can fail


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "ctibridge"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in {p.parent for p in package.rglob("*.py")} | {package}:
        (folder / "__init__.py").touch()
    return package


@pytest.mark.parametrize(("files", "broken"), [
    ({"core/model.py": "from ctibridge.service import pipeline\n", "service/pipeline.py": ""},
     "ctibridge.core.model -> ctibridge.service.pipeline"),
    ({"core/model.py": "import pydantic\n"}, "ctibridge.core.model imports ['pydantic']"),
    ({"store/memory.py": "def f():\n    from ..web.app import create\n", "web/app.py": ""},
     "ctibridge.store.memory -> ctibridge.web.app"),
    ({"service/pipeline.py": "import ctibridge.cli\n", "cli.py": ""},
     "ctibridge.service.pipeline -> ctibridge.cli"),
    ({"sim/pbx.py": "from ctibridge.store.memory import MemoryStore\n", "store/memory.py": ""},
     "ctibridge.sim.pbx -> ctibridge.store.memory"),
])
def test_an_upward_import_is_found(tmp_path: Path, files: dict[str, str], broken: str) -> None:
    package = _tree(tmp_path, files)
    found = layer_violations(import_graph(package), third_party(package))
    assert [v for v in found if v.startswith(broken)], found


def test_a_cycle_is_found_and_type_checking_imports_are_exempt(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "ami/a.py": "from ctibridge.ami import b\n",
        "ami/b.py": "from . import a\n",
        "gws/c.py": "import typing\nif typing.TYPE_CHECKING:\n    from ctibridge.gws.d import D\n",
        "gws/d.py": "from ctibridge.gws import c\n",
    })
    assert cycles(import_graph(package)) == [["ctibridge.ami.a", "ctibridge.ami.b"]]
