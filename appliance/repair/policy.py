"""What scene code may do: an import allow-list and a refusal of escape hatches.

Defence in depth only: the network-less, read-only, unprivileged sandbox stays the
real boundary. The checks refuse classes of construct, not examples, each with a reason
a person and a model can act on (every message names the line and the construct):

- imports outside the allow-list, and submodules of allowed packages that are private or
  hand out the system (``numpy.f2py``, ``sympy.parsing``, ``manim.utils.commands``);
- attributes (and imported names) that start with ``_`` (but ``__init__``, ``__name__``,
  ``__doc__``), name a module that hands out ``os``, ``sys``, ``subprocess``, a shell, the
  import machinery, pickles or code objects (``typing.sys``, ``random._os``), or frame internals;
- ``open``, ``eval``, ``exec``, ``compile``, ``__import__``, ``globals`` & co as names, and the
  same module names as bare names (Manim's star import hands out ``capture`` and ``open_file``);
- ``getattr``/``setattr``/``attrgetter``/``methodcaller`` except called with literal, allowed
  names; ``sympify``/``S``/``parse_expr``/``lambdify`` except of a literal expression, which is
  read and checked like code; pickle loaders and ``allow_pickle``; numpy's file writers.

What it cannot see: a string computed at run time and given to another SymPy function that
accepts strings (``simplify(s)``); the sandbox is what stops such code.
"""

from __future__ import annotations

import ast
import builtins
import re

from appliance.errors import CodeRejected
from appliance.python_syntax import parse_expression

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

# Functions that take an attribute name: fine with a literal, public one; a computed name is the
# classic way around the attribute checks, and a reference to one (``g = getattr``) hides the call.
ATTRIBUTE_FUNCTIONS: frozenset[str] = frozenset({"getattr", "setattr", "delattr", "hasattr", "attrgetter",
                                                 "methodcaller"})

# Attributes that start with an underscore are private, or the dunder machinery that reaches
# globals, classes and code (``random._os``, ``f.__globals__``); these three are safe and common.
ALLOWED_DUNDER_ATTRIBUTES: frozenset[str] = frozenset({"__init__", "__name__", "__doc__"})

# Names under which modules hand out the operating system, the interpreter, a shell, the import
# machinery, pickles or code objects (``typing.sys``, ``numpy.ctypeslib``, ``sympy.external``),
# and the parts of the allowed packages that run programs or import by name (Manim's ``capture``
# and ``open_file``, NumPy's f2py, SymPy's autowrap and preview, networkx's Graphviz bridges):
# refused as an attribute, an imported name, a module path's part, or a bare name.
MODULE_HANDLES: frozenset[str] = frozenset({
    "os", "sys", "subprocess", "shutil", "builtins", "importlib", "ctypes", "pty", "posix", "nt", "socket",
    "pickle", "marshal", "runpy", "inspect", "gc", "multiprocessing", "tempfile", "pathlib", "glob", "io",
    "modules", "system", "popen", "spawn", "spawnv", "spawnl", "execv", "execl", "execvp", "fork",
    "posix_spawn", "import_module", "CodeType", "FunctionType",
    "f2py", "distutils", "ctypeslib", "testing", "autowrap", "ufuncify", "codegen", "external", "preview",
    "runtests", "parsing", "commands", "file_ops", "module_ops", "tex_file_writing", "ipython_magic", "cli",
    "plugins", "capture", "open_file", "open_media_file", "get_plugins", "list_plugins", "get_ipython", "ipy",
    "nx_agraph", "nx_pydot", "backends",
    # pickle loaders: loading a pickle runs code
    "load", "loads", "fromfile", "memmap", "open_memmap", "read_array", "genfromtxt", "loadtxt",
})

# The bare names of the above that a scene can have in reach: modules, and what Manim's star
# import hands out (``capture`` runs a command, ``open_file`` a viewer). Ordinary words of the list
# (``load``, ``system``, ``testing``) stay usable as a scene's own variable names.
NAME_HANDLES: frozenset[str] = frozenset({
    "os", "sys", "subprocess", "shutil", "builtins", "importlib", "ctypes", "pty", "posix", "nt", "socket",
    "pickle", "marshal", "runpy", "inspect", "gc", "multiprocessing", "tempfile", "pathlib", "glob",
    "import_module", "CodeType", "FunctionType", "capture", "open_file", "open_media_file", "get_plugins",
    "list_plugins", "get_ipython", "ipy", "cli", "plugins",
})

# Frame, generator and code internals: the way from any function to its globals.
FRAME_ATTRIBUTES: frozenset[str] = frozenset({
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
    "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code",
})

# File writers through numpy (a scene has nothing to keep).
FORBIDDEN_METHODS: frozenset[str] = frozenset({"save", "savez", "savez_compressed", "savetxt", "tofile"})

# SymPy turns a string into code and evaluates it with every builtin function in reach (``eval``,
# ``getattr``, ``open``): these take a literal only, which is read and checked like scene code.
STRING_EVALUATORS: frozenset[str] = frozenset({"sympify", "S", "parse_expr", "parse_latex", "lambdify"})

# Builtins a string given to SymPy may name (its parser has every builtin function in reach).
_SAFE_IN_EXPRESSIONS: frozenset[str] = frozenset({"abs", "min", "max", "pow", "round", "sum", "int", "float",
                                                  "complex", "range", "len"})

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
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        refusal = _node_refusal(node, callees) or _file_refusal(node)
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


def _node_refusal(node: ast.AST, callees: set[int]) -> CodeRejected | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            refusal = import_refusal(node, alias.name) or _module_path_refusal(node, alias.name)
            if refusal:
                return refusal
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            return _refuse(node, "relative imports are not allowed: a scene is a single file")
        module = node.module or ""
        refusal = import_refusal(node, module) or _module_path_refusal(node, module)
        if refusal:
            return refusal
        for alias in node.names:
            if alias.name != "*" and _name_refused(alias.name):
                return _refuse(node, f"`from {module} import {alias.name}` is not allowed in a scene")
    elif isinstance(node, ast.Name):
        if node.id in FORBIDDEN_BUILTINS:
            return _refuse(node, f"`{node.id}` is not allowed in a scene")
        if node.id in NAME_HANDLES:
            return _refuse(node, f"`{node.id}` is not allowed in a scene (it reaches the system, files or the "
                                 "import machinery)")
        if node.id in ATTRIBUTE_FUNCTIONS and id(node) not in callees:
            return _refuse(node, f"`{node.id}` may only be called, with a literal attribute name")
    elif isinstance(node, ast.Attribute):
        if node.attr in ATTRIBUTE_FUNCTIONS and id(node) not in callees:
            return _refuse(node, f"`{node.attr}` may only be called, with a literal attribute name")
        return _attribute_refusal(node)
    elif isinstance(node, ast.Call):
        return _call_refusal(node)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = _DUNDER_IN_STRING.search(node.value)
        if match and match.group(0) not in ALLOWED_DUNDER_ATTRIBUTES:
            return _refuse(node, f"the string mentions `{match.group(0)}`; dunder names are not allowed")
    return None


def _name_refused(name: str) -> bool:
    """An attribute or imported name the policy refuses."""
    return ((name.startswith("_") and name not in ALLOWED_DUNDER_ATTRIBUTES) or name in MODULE_HANDLES
            or name in FRAME_ATTRIBUTES)


def _module_path_refusal(node: ast.AST, module: str) -> CodeRejected | None:
    """A submodule of an allowed package that is private or hands out the system (``numpy.f2py``,
    ``sympy.parsing``, ``manim.utils.commands``)."""
    for part in module.split(".")[1:]:
        if _name_refused(part):
            return _refuse(node, f"`import {module}`: the module {part} is not allowed in a scene")
    return None


def _attribute_refusal(node: ast.Attribute) -> CodeRejected | None:
    attr = node.attr
    if attr in FRAME_ATTRIBUTES:
        return _refuse(node, f"access to frame internals (`{attr}`) is not allowed in a scene")
    if attr.startswith("_") and attr not in ALLOWED_DUNDER_ATTRIBUTES:
        return _refuse(node, f"access to the attribute `{attr}` is not allowed in a scene (names that start with "
                             "_ are private)")
    if attr in MODULE_HANDLES:
        return _refuse(node, f"access to the attribute `{attr}` is not allowed in a scene (it reaches the system, "
                             "files or the import machinery)")
    return None


def _callee_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _call_refusal(node: ast.Call) -> CodeRejected | None:
    func = node.func
    name = _callee_name(func)
    if name in ATTRIBUTE_FUNCTIONS:
        names = node.args[1:2] if name in ("getattr", "setattr", "delattr", "hasattr") else node.args[:]
        if name == "methodcaller":
            names = node.args[:1]
        for argument in names:
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                return _refuse(node, f"`{name}` with a computed attribute name is not allowed; use the attribute "
                                     "directly")
            for part in argument.value.split("."):
                if part.startswith("_") or _name_refused(part):
                    return _refuse(node, f"`{name}` on `{argument.value}` is not allowed in a scene")
        if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) < 2:
            return _refuse(node, f"`{name}` with a computed attribute name is not allowed; use the attribute directly")
    if name in STRING_EVALUATORS:
        refusal = _evaluated_string_refusal(node, name)
        if refusal is not None:
            return refusal
    if any(keyword.arg == "allow_pickle" for keyword in node.keywords):
        return _refuse(node, "`allow_pickle`: loading pickles runs code; not allowed in a scene")
    if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else ""
        if owner_name in ("np", "numpy", "json", "sympy", "sp") or not isinstance(owner, ast.Name):
            return _refuse(node, f"`{owner_name or '…'}.{func.attr}` writes files; not allowed in a scene")
    return None


def _evaluated_string_refusal(node: ast.Call, name: str) -> CodeRejected | None:
    """``sympify`` & co: the expression must be written in the code, and what it says is checked
    like scene code (SymPy's parser has ``eval``, ``getattr`` and ``open`` in reach)."""
    if name == "lambdify":
        arguments = node.args[1:2] or [kw.value for kw in node.keywords if kw.arg == "expr"]
    else:
        arguments = node.args[:1] or [kw.value for kw in node.keywords if kw.arg in ("a", "s", "expr")]
    for argument in arguments:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, int | float | complex):
            continue
        if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
            # A variable may hold a string as well as a SymPy expression: nothing here can tell.
            return _refuse(node, f"`{name}` of a computed value is not allowed (SymPy would evaluate a string as "
                                 "code); write the expression with SymPy objects or as a literal string, and plot "
                                 "with a Python lambda")
        refusal = _expression_string_refusal(node, name, argument.value)
        if refusal is not None:
            return refusal
    return None


def _expression_string_refusal(node: ast.Call, name: str, text: str) -> CodeRejected | None:
    try:
        parsed = parse_expression(text.replace("^", "**"))
    except SyntaxError:
        return _refuse(node, f"`{name}({text!r})` is not a plain expression; write it with SymPy objects")
    for part in ast.walk(parsed):
        if isinstance(part, ast.Name) and part.id in _BUILTIN_NAMES and part.id not in _SAFE_IN_EXPRESSIONS:
            return _refuse(node, f"`{name}({text!r})` names the builtin `{part.id}`; not allowed in a scene")
        if isinstance(part, ast.Attribute | ast.Subscript | ast.Lambda | ast.NamedExpr):
            return _refuse(node, f"`{name}({text!r})` is not a plain expression; write it with SymPy objects")
        if isinstance(part, ast.Name) and _name_refused(part.id):
            return _refuse(node, f"`{name}({text!r})` names `{part.id}`; not allowed in a scene")
    return None


_BUILTIN_NAMES: frozenset[str] = frozenset(dir(builtins))
