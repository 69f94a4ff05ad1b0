"""The documentation is checked against the code, the way datasette's tests/test_docs.py does it.

docs/INTERFACES.md: every backticked module path (``appliance/...py``, a package
directory, ``appliance.x.y``) must exist, and every call it documents (``Name(``,
``.method(``, ``Class.method(``, ``module.function(``) must exist in the modules its
section is about: the modules named in the section's heading and in the item itself.
A name counts when those modules define it (a function, class, method, field or
parameter), import it, or use it as an attribute (a library's API the code calls, such
as python-telegram-bot's ``set_webhook``). The code is read with ``ast``; nothing is
imported.

The exception tree drawn in ``appliance/errors.py``'s docstring must be the tree its
classes form. (The README's settings table is checked in test_config.py.)
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from appliance import errors
from tests.source_tree import ROOT, module_name, resolve_import_from

INTERFACES = ROOT / "docs" / "INTERFACES.md"
PROJECT_DIRS = ("appliance", "frontends", "tests", "bench", "sandbox_image")

CODE_SPAN = re.compile(r"`([^`]+)`")
PROJECT_PATH = re.compile(rf"(?<![\w/.])((?:{'|'.join(PROJECT_DIRS)})/[\w./-]*)")
DOTTED_MODULE = re.compile(r"^(?:appliance|frontends|tests)(?:\.\w+)+$")
# ``name(``, ``.name(``, ``a.b.name(``: the leading dot is kept to tell a method from a function.
CALL = re.compile(r"(?<![\w.])(\.?)((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\(")


# -- the code, read with ast ----------------------------------------------------------------------


@dataclass
class ClassInfo:
    module: str
    name: str
    members: set[str] = field(default_factory=set)
    bases: list[ast.expr] = field(default_factory=list)
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)  # annotated class attributes (dataclass fields)


@dataclass
class ModuleInfo:
    name: str
    path: Path
    defined: dict[str, ast.AST] = field(default_factory=dict)  # top-level defs, classes, assignments
    imported: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (module, name)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    parameters: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)  # every ``x.attr`` the code uses
    words: set[str] = field(default_factory=set)  # identifiers in string literals (generated code), not docstrings


@cache
def project_modules() -> dict[str, ModuleInfo]:
    modules: dict[str, ModuleInfo] = {}
    for directory in PROJECT_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            if "fixtures" in path.relative_to(ROOT).parts:
                continue
            info = _read_module(module_name(path), path)
            modules[info.name] = info
    return modules


def _targets(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Tuple | ast.List):
        for element in node.elts:
            yield from _targets(element)


def _assigned(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            yield from _targets(target)
    elif isinstance(statement, ast.AnnAssign):
        yield from _targets(statement.target)


def _read_module(name: str, path: Path) -> ModuleInfo:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    info = ModuleInfo(name, path)
    is_package = path.name == "__init__.py"
    docstrings = _docstring_ids(tree)
    for statement in _top_level(tree.body):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            info.defined[statement.name] = statement
        for target in _assigned(statement):
            info.defined[target] = statement
        if isinstance(statement, ast.ClassDef):
            info.classes[statement.name] = _read_class(name, statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    info.imported[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    info.imported[top] = (top, None)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_import_from(name, is_package, node)
            for alias in node.names:
                info.imported[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            arguments = node.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             arguments.vararg, arguments.kwarg]:
                if argument is not None:
                    info.parameters.add(argument.arg)
        elif isinstance(node, ast.Attribute):
            info.attributes.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            info.words.update(re.findall(r"[A-Za-z_]\w*", node.value))
    return info


def _docstring_ids(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking inside ``if``/``try`` blocks (TYPE_CHECKING, fallbacks)."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _top_level(statement.body)
            yield from _top_level(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody,
                          *[handler.body for handler in statement.handlers]):
                yield from _top_level(block)


def _read_class(module: str, node: ast.ClassDef) -> ClassInfo:
    info = ClassInfo(module, node.name, bases=list(node.bases))
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            info.members.add(statement.name)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            info.methods[statement.name] = statement
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            info.fields.append(statement.target.id)
        info.members.update(_assigned(statement))
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(statement):  # self.x = ... in methods
                targets = inner.targets if isinstance(inner, ast.Assign) else (
                    [inner.target] if isinstance(inner, ast.AnnAssign) else [])
                for target in targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):
                        info.members.add(target.attr)
    return info


@dataclass(frozen=True)
class Found:
    """Where a name is defined in the project; ``node`` is None when the name is a module."""

    module: str
    node: ast.AST | None = None


EXTERNAL = Found("<a library>")


def lookup(module: str, name: str, depth: int = 0) -> Found | None:
    """What ``name`` is in a project module (followed through imports); EXTERNAL for a library's."""
    modules = project_modules()
    if f"{module}.{name}" in modules:
        return Found(f"{module}.{name}")
    info = modules.get(module)
    if info is None or depth > 10:
        return None
    if name in info.defined:
        return Found(module, info.defined[name])
    if name in info.imported:
        source, imported_name = info.imported[name]
        if source.split(".")[0] not in PROJECT_DIRS:
            return EXTERNAL
        if imported_name is None:
            return Found(source) if source in modules else None
        return lookup(source, imported_name, depth + 1)
    return None


def class_of(module: str, name: str) -> ClassInfo | None:
    found = lookup(module, name)
    if found is None or not isinstance(found.node, ast.ClassDef):
        return None
    return project_modules()[found.module].classes.get(found.node.name)


def _bases(cls: ClassInfo) -> Iterator[ClassInfo | None]:
    """The project classes a class derives from (None for a library's base)."""
    for base in cls.bases:
        node = base.value if isinstance(base, ast.Subscript) else base  # Generic[T], Protocol[T]
        name = node.id if isinstance(node, ast.Name) else None
        if name in ("object", "Protocol", "Generic"):
            continue
        yield class_of(cls.module, name) if name else None


def class_members(cls: ClassInfo, depth: int = 0) -> tuple[set[str], bool]:
    """Members of a class and its project bases; True when some base is a library's (open-ended)."""
    members = set(cls.members)
    open_ended = False
    for base in _bases(cls):
        if base is None or depth > 10:
            open_ended = True
            continue
        inherited, base_open = class_members(base, depth + 1)
        members |= inherited
        open_ended |= base_open
    return members, open_ended


def _function_parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str] | None:
    """Names a function takes as keywords; None when it takes any (``**kwargs``)."""
    arguments = function.args
    if arguments.kwarg is not None:
        return None
    return {argument.arg for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}


def parameters_of(found: Found | None, member: str | None = None) -> set[str] | None:
    """The keyword names a documented call may use; None when unknown (a library's, ``**kwargs``)."""
    if found is None or found is EXTERNAL:
        return None
    if isinstance(found.node, ast.FunctionDef | ast.AsyncFunctionDef) and member is None:
        return _function_parameters(found.node)
    if not isinstance(found.node, ast.ClassDef):
        return None
    cls = project_modules()[found.module].classes.get(found.node.name)
    return _class_parameters(cls, member or "__init__") if cls else None


def _class_parameters(cls: ClassInfo, method: str, depth: int = 0) -> set[str] | None:
    if method in cls.methods:
        return _function_parameters(cls.methods[method])
    inherited: set[str] = set()
    for base in _bases(cls):
        if base is None or depth > 10:
            return None  # a library's base may define it
        found = _class_parameters(base, method, depth + 1)
        if found is None:
            return None
        inherited |= found
    if method == "__init__":
        return inherited | set(cls.fields)  # a dataclass (or NamedTuple) takes its fields
    return None


def documented_keywords(span: str, start: int) -> list[str]:
    """The ``name=`` arguments of the call whose ``(`` ends at ``start``, at its own nesting level."""
    depth, segment, segments = 0, "", []
    for char in span[start:]:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            segments.append(segment)
            segment = ""
        else:
            segment += char
    segments.append(segment)
    keywords = []
    for text in segments:
        match = re.match(r"\s*(\w+)\s*(?::[^=]*)?=(?!=)", text)
        if match:
            keywords.append(match[1])
    return keywords


# -- the document ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One list item of INTERFACES.md (or a section's text before its first item)."""

    section: str
    heading_paths: tuple[str, ...]
    text: str
    line: int

    @property
    def spans(self) -> list[str]:
        return CODE_SPAN.findall(self.text)

    @property
    def paths(self) -> list[str]:
        return [span for span in self.spans if PROJECT_PATH.fullmatch(span)]

    @property
    def dotted(self) -> list[str]:
        return [span for span in self.spans if DOTTED_MODULE.fullmatch(span)]

    @property
    def label(self) -> str:
        first = (self.paths or self.heading_paths or ("",))[0]
        return f"line {self.line}: {self.section.split(' (')[0]} {first}".strip()


def document_items(text: str) -> list[Item]:
    items: list[Item] = []
    section, heading_paths = "", ()
    current: list[str] = []
    start = 0

    def flush() -> None:
        if current and CODE_SPAN.search(" ".join(current)):  # prose without code documents nothing
            # Joined with spaces: a code span may run across a line break.
            items.append(Item(section, heading_paths, " ".join(part.strip() for part in current), start))
        current.clear()

    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            flush()
            section = line.lstrip("#").strip()
            heading_paths = tuple(PROJECT_PATH.findall(line))
            start = number + 1
        elif line.startswith("- "):
            flush()
            current.append(line[2:])
            start = number
        else:
            if not current:
                start = number
            current.append(line)
    flush()
    return items


def scope_of(item: Item) -> list[str]:
    """The project modules an item is about: its section heading's paths and its own."""
    modules = project_modules()
    names: list[str] = []
    for path in [*item.heading_paths, *item.paths]:
        target = ROOT / path
        if target.is_dir():
            names += [name for name, info in modules.items() if target in info.path.parents]
        elif target.suffix == ".py" and target.exists():
            names.append(module_name(target))
    for dotted in item.dotted:
        module = _owning_module(dotted)
        if module:
            names.append(module)
    return list(dict.fromkeys(names))


def _owning_module(dotted: str) -> str | None:
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in project_modules():
            return ".".join(parts)
        parts.pop()
    return None


def missing_in(item: Item) -> list[str]:
    """Every path, module and call the item documents that the code does not have."""
    modules = project_modules()
    problems: list[str] = []
    for path in item.paths:
        if not (ROOT / path).exists():
            problems.append(f"{path}: no such file or directory")
    for dotted in item.dotted:
        problems += _missing_dotted(dotted)
    scope = scope_of(item)
    if not scope:
        return [*problems, "the item names no module of the project (in its section's heading or itself)"]
    infos = [modules[name] for name in scope]
    for span in item.spans:
        for call in CALL.finditer(span):
            dot, name = call.groups()
            problem = _missing_call(dot, name, scope, infos)
            if problem:
                problems.append(problem)
            elif not dot:
                problems += _unknown_keywords(name, documented_keywords(span, call.end()), infos)
    return list(dict.fromkeys(problems))


def _missing_dotted(dotted: str) -> list[str]:
    module = _owning_module(dotted)
    if module is None:
        return [f"{dotted}: no such module"]
    rest = dotted[len(module) + 1:].split(".") if dotted != module else []
    if not rest:
        return []
    found = lookup(module, rest[0])
    if found is None:
        return [f"{dotted}: {module} has no {rest[0]}"]
    if len(rest) > 1:
        cls = class_of(module, rest[0])
        if cls is not None and rest[1] not in class_members(cls)[0]:
            return [f"{dotted}: {rest[0]} has no {rest[1]}"]
    return []


def _scope_classes(scope: list[str], infos: list[ModuleInfo]) -> Iterator[ClassInfo]:
    for info in infos:
        yield from info.classes.values()
        for local in info.imported:
            cls = class_of(info.name, local)
            if cls is not None:
                yield cls


def _known_names(scope: list[str], infos: list[ModuleInfo]) -> set[str]:
    names: set[str] = set()
    for info in infos:
        names |= set(info.defined) | set(info.imported) | info.parameters | info.attributes | info.words
    for cls in _scope_classes(scope, infos):
        names |= class_members(cls)[0]
    return names


def _missing_call(dot: str, name: str, scope: list[str], infos: list[ModuleInfo]) -> str | None:
    where = ", ".join(scope)
    parts = name.split(".")
    if len(parts) == 1:
        return None if name in _known_names(scope, infos) else f"{dot}{name}(: not in {where}"
    if DOTTED_MODULE.fullmatch(".".join(parts[:-1])):
        return f"{name}(: not found" if _missing_dotted(name) else None
    head, member = parts[0], parts[1]
    for info in infos:
        # A name of the module, or a sibling module named from its package (``image.copy_sandbox_image``).
        package = info.name if info.path.name == "__init__.py" else info.name.rpartition(".")[0]
        found = lookup(info.name, head) or (lookup(package, head) if package else None)
        if found is None:
            continue
        if found is EXTERNAL:
            return None  # a library's object: its API is not ours to check
        if found.node is None:  # a module
            return None if lookup(found.module, member) else f"{name}(: {found.module} has no {member}"
        cls = class_of(info.name, head) or (class_of(package, head) if package else None)
        if cls is not None:
            members, open_ended = class_members(cls)
            return None if member in members or open_ended else f"{name}(: {cls.module}.{head} has no {member}"
        return None  # an attribute of a function or a value: not followed
    if head in _known_names(scope, infos):
        return None  # a library's object the code reaches as an attribute or variable
    return f"{name}(: {head} is not in {where}"


def _unknown_keywords(name: str, keywords: list[str], infos: list[ModuleInfo]) -> list[str]:
    """Keywords a documented ``Name(...)`` or ``Class.method(...)`` uses that the code does not take."""
    if not keywords:
        return []
    parts = name.split(".")
    if len(parts) > 2:
        return []
    for info in infos:
        found = lookup(info.name, parts[0])
        if found is None:
            continue
        parameters = parameters_of(found, parts[1] if len(parts) == 2 else None)
        if parameters is None:
            return []
        return [f"{name}(...): no parameter {keyword!r} in {found.module}" for keyword in keywords
                if keyword not in parameters]
    return []


# -- the tests -----------------------------------------------------------------------------------


ITEMS = document_items(INTERFACES.read_text(encoding="utf-8"))


def test_the_document_has_items_to_check() -> None:
    assert len(ITEMS) > 20
    assert sum(len(item.paths) for item in ITEMS) > 20


@pytest.mark.parametrize("item", ITEMS, ids=[item.label for item in ITEMS])
def test_every_documented_module_and_call_exists(item: Item) -> None:
    problems = missing_in(item)
    assert not problems, f"docs/INTERFACES.md {item.label} documents what the code lacks:\n" + "\n".join(problems)


def test_the_checker_finds_what_is_missing() -> None:
    # The checker itself: a made-up function, method, parameter, module and path are reported; real ones pass.
    heading = ("appliance/generation/llm.py",)
    real = Item(
        "Generation", heading,
        "`ProviderChain(settings, *, routes=None, retry_backoff_s=1.0)`: `.complete(messages)`, `provider_of(model)`, "
        "`ModelRoute(model, provider, api_base, api_key=None)`, `appliance.generation.llm.ProviderChain.describe`", 1,
    )
    assert missing_in(real) == []
    invented = Item(
        "Generation", heading,
        "`ProviderChain.teleport(x)`, `summon_model()`, `ProviderChain(settings, warp=9)`, "
        "`appliance/generation/nowhere.py`, `appliance.generation.nowhere`, `appliance.generation.llm.Nothing`", 1,
    )
    problems = missing_in(invented)
    assert len(problems) == 6, problems
    for word in ("teleport", "summon_model", "'warp'", "nowhere.py", "generation.nowhere", "Nothing"):
        assert any(word in problem for problem in problems), (word, problems)


# -- the exception tree in appliance/errors.py's docstring ----------------------------------------

TREE_LINE = re.compile(r"^    (?P<indent>(?:[│ ]   )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+)\s{2,}\S")


def drawn_tree(doc: str) -> dict[str, str | None]:
    """``{class name: parent name}`` as the docstring draws it."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in doc.splitlines():
        match = TREE_LINE.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 4 + (1 if match["branch"] else 0)
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def defined_tree() -> dict[str, str | None]:
    tree: dict[str, str | None] = {}
    for name, cls in vars(errors).items():
        if inspect.isclass(cls) and issubclass(cls, errors.ApplianceError) and cls.__module__ == errors.__name__:
            parent = next((base.__name__ for base in cls.__bases__ if issubclass(base, errors.ApplianceError)), None)
            tree[name] = parent
    return tree


def test_the_tree_reader_reads_the_drawing() -> None:
    drawing = """
    Base                  the root
    ├── Child             one
    │   └── Grandchild    two
    └── Last              three
        └── Deep          four
    """
    assert drawn_tree(drawing) == {"Base": None, "Child": "Base", "Grandchild": "Child", "Last": "Base", "Deep": "Last"}


def test_the_exception_tree_in_the_docstring_is_the_code() -> None:
    assert errors.__doc__
    assert drawn_tree(errors.__doc__) == defined_tree()

