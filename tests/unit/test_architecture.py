"""The layout DESIGN.md promises, checked from the source with ``ast``.

- no import cycle among the project's modules (function-level imports count too);
- the core (``appliance``) never imports a frontend, argparse, FastAPI, Gradio, uvicorn
  or python-telegram-bot, and never prints;
- a frontend never imports another frontend;
- no function-level import of the project's own modules, except the ones listed in
  ``ALLOWED_LAZY`` with the reason (a measured start-up cost).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.source_tree import ROOT, module_name, resolve_import_from

PACKAGES = ("appliance", "frontends")
CORE_FORBIDDEN = ("frontends", "argparse", "fastapi", "gradio", "telegram", "uvicorn", "starlette")
# The frontends' own packages: each may import the core and itself, never another one.
FRONTEND_PACKAGES = ("frontends.api", "frontends.telegram", "frontends.web", "frontends.cli")

# (importing module, imported module) -> why the import waits until it is needed.
# Measured with ``python -X importtime`` (2 CPUs): ``appliance --help``, ``jobs`` and ``sandbox``
# commands must not pay for the whole service.
ALLOWED_LAZY: dict[tuple[str, str], str] = {
    ("frontends.cli.serve", "frontends.server"): "Gradio, FastAPI and python-telegram-bot: 7-11 s",
    ("frontends.cli.render", "appliance.assemble"): "the whole service, SymPy included: about 1.2 s",
    ("frontends.cli.render", "appliance.service"): "the same 1.2 s as appliance.assemble",
    ("frontends.cli.doctor", "appliance.doctor"): "every part's client (SymPy, boto3, docker-py): 0.8-1.0 s",
    ("frontends.server", "frontends.web"): "Gradio: about 7 s of the server's 11 s, only with APPLIANCE_WEB_UI on",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    lineno: int
    lazy: bool  # inside a function body


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, lazy: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(name, alias.name, child.lineno, lazy)
            elif isinstance(child, ast.ImportFrom):
                base = resolve_import_from(name, is_package, child)
                yield Import(name, base, child.lineno, lazy)
                for alias in child.names:
                    # ``from package import module`` imports the module.
                    yield Import(name, f"{base}.{alias.name}", child.lineno, lazy)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # typing-only imports do not run
            else:
                yield from visit(child, inner)

    yield from visit(tree, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def project_imports() -> list[Import]:
    modules = project_modules()
    found: list[Import] = []
    for name, path in modules.items():
        for item in imports_of(name, path):
            found.append(item)
    return found


def _owning_module(imported: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (``appliance.models.X`` -> ``appliance.models``)."""
    parts = imported.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for item in project_imports():
        target = _owning_module(item.imported, modules)
        if target is not None and target != item.importer and not _is_ancestor_package(target, item.importer):
            graph[item.importer].add(target)
    return graph


def _is_ancestor_package(target: str, importer: str) -> bool:
    # Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first; a package's
    # __init__ that imports its own submodules is not a cycle with them.
    return importer.startswith(target + ".")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _frontend_package(module: str) -> str | None:
    for package in FRONTEND_PACKAGES:
        if module == package or module.startswith(package + "."):
            return package
    return None


# -- the tests --------------------------------------------------------------------------------


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The checker itself: a planted cycle is found, a chain is not.
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_import_reader_sees_function_level_imports(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("import os\ndef f():\n    from appliance import models\n")
    found = list(imports_of("appliance.mod", path))
    assert Import("appliance.mod", "os", 1, False) in found
    assert Import("appliance.mod", "appliance.models", 3, True) in found


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], f"import cycles among the project's modules: {cycles}"


def test_the_core_imports_no_frontend_or_web_framework() -> None:
    offending = [
        f"{item.importer}:{item.lineno} imports {item.imported}"
        for item in project_imports()
        if item.importer.startswith("appliance")
        and any(item.imported == f or item.imported.startswith(f + ".") for f in CORE_FORBIDDEN)
    ]
    assert offending == []


def test_the_core_never_prints() -> None:
    offending = []
    for name, path in project_modules().items():
        if not name.startswith("appliance"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offending.append(f"{name}:{node.lineno}")
    assert offending == []


def test_a_frontend_never_imports_another_frontend() -> None:
    offending = []
    for item in project_imports():
        mine, theirs = _frontend_package(item.importer), _frontend_package(item.imported)
        if mine and theirs and mine != theirs:
            offending.append(f"{item.importer}:{item.lineno} imports {item.imported}")
    assert offending == []


def test_no_lazy_imports_between_the_projects_modules() -> None:
    modules = project_modules()
    offending = sorted({
        f"{item.importer}:{item.lineno} imports {item.imported}"
        for item in project_imports()
        if item.lazy and _owning_module(item.imported, modules) is not None
        and (item.importer, _owning_module(item.imported, modules)) not in ALLOWED_LAZY
    })
    assert offending == []
