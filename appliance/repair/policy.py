"""What scene code may do: an import allow-list and a refusal of escape hatches.

Defence in depth only: the network-less, read-only, unprivileged sandbox stays the
real boundary. These checks turn the obvious ways out (``os``, ``subprocess``,
``open``, ``eval``, dunder attribute games) into a clear refusal before anything
runs, with a reason a person and a model can act on: every message names the line
and the construct.
"""

from __future__ import annotations

import ast
import re

from appliance.errors import CodeRejected

ALLOWED_IMPORT_ROOTS: frozenset[str] = frozenset({
    "__future__", "manim", "numpy", "scipy", "sympy", "networkx", "math", "cmath", "random",
    "statistics", "fractions", "decimal", "numbers", "itertools", "functools", "operator",
    "collections", "dataclasses", "enum", "typing", "typing_extensions", "abc", "copy", "string",
    "re", "textwrap", "colour", "bisect", "heapq", "time", "datetime", "calendar", "unicodedata",
    "types", "array", "pprint",
})

# Manim plugins the sandbox image installs (sandbox_image/Dockerfile): importing them is
# allowed. manim-physics 0.4.0 (rigid bodies through pymunk, electromagnetism, waves,
# pendulums) renders with Manim 0.19; models reach for it in physics problems.
# manim_voiceover is the appliance's own stand-in (sandbox_image/voice): upstream's API, spoken
# offline by espeak-ng whatever speech service the scene names.
RENDERER_PLUGINS: frozenset[str] = frozenset({"manim_physics", "manim_voiceover"})

# Manim plugins a model sometimes reaches for; the renderer has none of them, so the
# refusal says what to use instead rather than failing later with ModuleNotFoundError.
MISSING_PLUGINS: dict[str, str] = {
    "manim_slides": "use a plain Scene",
    "manim_chemistry": "draw molecules with Circle, Line and Text",
    "manim_ml": "draw the network with Circle, Line and VGroup",
}

FORBIDDEN_BUILTINS: frozenset[str] = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint",
    "input", "exit", "quit", "help", "memoryview", "__builtins__", "__loader__", "__spec__",
})

# getattr & co are fine with a plain attribute name; a computed or dunder name is the
# classic way around an attribute check.
ATTRIBUTE_FUNCTIONS: frozenset[str] = frozenset({"getattr", "setattr", "delattr", "hasattr"})

ALLOWED_DUNDER_ATTRIBUTES: frozenset[str] = frozenset({"__init__", "__name__", "__doc__"})

# File and pickle access through numpy and sympy's string evaluation.
FORBIDDEN_METHODS: frozenset[str] = frozenset({
    "load", "loads", "save", "savez", "savetxt", "loadtxt", "genfromtxt", "fromfile", "tofile",
    "memmap", "system", "popen", "spawn", "fork",
})

_DUNDER_IN_STRING = re.compile(r"__[A-Za-z]\w*__")


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _refuse(node: ast.AST, what: str) -> CodeRejected:
    line = getattr(node, "lineno", "?")
    return CodeRejected(f"line {line}: {what}")


def import_refusal(node: ast.AST, module: str) -> CodeRejected | None:
    """Why importing ``module`` is refused, or None when it is allowed."""
    root = _root(module)
    if root in ALLOWED_IMPORT_ROOTS or root in RENDERER_PLUGINS:
        return None
    if root in MISSING_PLUGINS:
        return _refuse(
            node,
            f"`import {module}`: the Manim plugin {root} is not installed in the renderer; "
            f"{MISSING_PLUGINS[root]}",
        )
    allowed = ", ".join(sorted(r for r in ALLOWED_IMPORT_ROOTS if r != "__future__"))
    return _refuse(
        node,
        f"`import {module}` is not allowed in a scene (it may import only: {allowed})",
    )


# Mobjects that read a file by name; the renderer has no files but the scene itself.
FILE_READERS: dict[str, tuple[int, str]] = {
    "ImageMobject": (0, "filename_or_array"),
    "SVGMobject": (0, "file_name"),
    "Code": (0, "code_file"),
}


def check_policy(tree: ast.Module) -> None:
    """Raise ``CodeRejected`` for the first construct the policy refuses."""
    for node in ast.walk(tree):
        refusal = _node_refusal(node) or _file_refusal(node)
        if refusal is not None:
            raise refusal


def _file_refusal(node: ast.AST) -> CodeRejected | None:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FILE_READERS):
        return None
    position, keyword_name = FILE_READERS[node.func.id]
    argument = node.args[position] if len(node.args) > position else next(
        (kw.value for kw in node.keywords if kw.arg == keyword_name), None
    )
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return _refuse(
            node,
            f"{node.func.id}({argument.value!r}) needs a file, and the renderer has none: "
            "draw it with Manim shapes and Text instead",
        )
    return None


def _node_refusal(node: ast.AST) -> CodeRejected | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            refusal = import_refusal(node, alias.name)
            if refusal:
                return refusal
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            return _refuse(node, "relative imports are not allowed: a scene is a single file")
        return import_refusal(node, node.module or "")
    elif isinstance(node, ast.Name):
        if node.id in FORBIDDEN_BUILTINS:
            return _refuse(node, f"`{node.id}` is not allowed in a scene")
    elif isinstance(node, ast.Attribute):
        return _attribute_refusal(node)
    elif isinstance(node, ast.Call):
        return _call_refusal(node)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = _DUNDER_IN_STRING.search(node.value)
        if match and match.group(0) not in ALLOWED_DUNDER_ATTRIBUTES:
            return _refuse(node, f"the string mentions `{match.group(0)}`; dunder names are not allowed")
    return None


def _attribute_refusal(node: ast.Attribute) -> CodeRejected | None:
    attr = node.attr
    if attr.startswith("__") and attr not in ALLOWED_DUNDER_ATTRIBUTES:
        return _refuse(node, f"access to the attribute `{attr}` is not allowed in a scene")
    if attr.startswith("_") and attr.endswith("_") and len(attr) > 2 and attr.strip("_") in {
        "globals", "builtins", "code", "closure", "subclasses", "mro", "bases", "class", "dict",
    }:
        return _refuse(node, f"access to the attribute `{attr}` is not allowed in a scene")
    if attr in ("f_globals", "f_locals", "f_back", "gi_frame", "cr_frame", "tb_frame"):
        return _refuse(node, f"access to frame internals (`{attr}`) is not allowed in a scene")
    return None


def _call_refusal(node: ast.Call) -> CodeRejected | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2:
        name_argument = node.args[1]
        if not (isinstance(name_argument, ast.Constant) and isinstance(name_argument.value, str)):
            return _refuse(
                node,
                f"`{func.id}` with a computed attribute name is not allowed; use the attribute directly",
            )
        if name_argument.value.startswith("__"):
            return _refuse(node, f"`{func.id}` on `{name_argument.value}` is not allowed in a scene")
    if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else ""
        if owner_name in ("np", "numpy", "pickle", "os", "json", "marshal", "sympy", "sp"):
            return _refuse(node, f"`{owner_name}.{func.attr}` reads or writes files; not allowed in a scene")
    return None
