"""Static checks and model-free repair of Manim scene code.

``validate_and_repair`` takes a model's reply (or plain code) and returns code that
Manim Community 0.19 can render, or raises ``CodeRejected`` with a reason a person
and a model can act on (it names the line and the construct):

1. extract the code from Markdown fences and chatter;
2. size cap, then parse;
3. repair, as AST rewrites visible in the returned code: old imports and class
   names, ``GraphScene``, ``x_min``-style axis arguments, colours that do not
   exist, 2-D point literals, old ``play`` styles, CONFIG dicts, zero durations;
4. policy (``appliance.repair.policy``): import allow-list, no private attributes, no
   module that hands out the system, no computed names for ``getattr`` & co, no string
   evaluation by SymPy but of checked literals, no pickles (defence in depth: the sandbox
   is the real boundary);
5. pick the one scene to render, make sure it produces a video, and refuse names
   neither Manim nor the code defines (they would fail at render time anyway).

``COMPAT_PRELUDE`` is run by the sandbox in the scene's namespace before the code;
it covers what only shows at run time (computed 2-D points, zero-length waits).
This module never imports Manim: names are checked against a generated table.
"""

from __future__ import annotations

import ast
import builtins
import textwrap
from dataclasses import dataclass, field

from appliance.errors import CodeRejected
from appliance.python_syntax import parse_module
from appliance.repair.context import names_bound_by
from appliance.repair.extract import extract_code
from appliance.repair.manim_names import MANIM_NAMES, MANIM_VERSION
from appliance.repair.policy import check_policy
from appliance.repair.prelude import COMPAT_PRELUDE
from appliance.repair.scenes import pick_scene
from appliance.repair.transforms import ensure_video, repair_tree

__all__ = ["COMPAT_PRELUDE", "ValidatedScene", "extract_code", "validate_and_repair"]

DEFAULT_MAX_BYTES = 60_000
_MAX_UNDEFINED_LISTED = 5


@dataclass(frozen=True)
class ValidatedScene:
    """Scene code that passed validation, after repair."""

    code: str
    scene_name: str
    repairs: list[str] = field(default_factory=list)


def validate_and_repair(code_or_reply: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ValidatedScene:
    """Extract, repair and check scene code; ``CodeRejected`` says why it cannot render."""
    code = extract_code(code_or_reply)
    try:
        size = len(code.encode("utf-8"))
    except UnicodeEncodeError as exc:
        # A lone surrogate: not text any file, JSON row or interpreter accepts.
        bad = ord(exc.object[exc.start])
        raise CodeRejected(
            f"the scene code contains a character that is not valid text (U+{bad:04X}); write it again without it"
        ) from exc
    if size > max_bytes:
        raise CodeRejected(
            f"the scene code is {size} bytes, over the limit of {max_bytes}: write a shorter scene"
        )
    if not code.strip():
        raise CodeRejected("the reply contains no Python code: answer with one ```python block")
    tree, dedented = _parse(code)
    ctx = repair_tree(tree)
    if dedented:
        ctx.repairs.insert(0, "removed the indentation common to every line")
    check_policy(tree)
    scene_name = pick_scene(tree)
    ensure_video(ctx, scene_name)
    _check_names_defined(tree)
    repaired = ast.unparse(ast.fix_missing_locations(tree)) + "\n" if ctx.repairs else code
    try:
        compile(repaired, "scene.py", "exec")
    except SyntaxError as exc:  # a repair produced something Python refuses: a bug here, not the model's
        raise CodeRejected(f"line {exc.lineno}: the repaired code does not compile: {exc.msg}") from exc
    return ValidatedScene(code=repaired, scene_name=scene_name, repairs=list(ctx.repairs))


def _parse(code: str) -> tuple[ast.Module, bool]:
    try:
        return parse_module(code, filename="scene.py"), False
    except SyntaxError as exc:
        # Code pasted with a common indent (from a list item or a quote) is still code.
        dedented = textwrap.dedent(code)
        if dedented != code:
            try:
                return parse_module(dedented, filename="scene.py"), True
            except SyntaxError:
                pass
        detail = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        raise CodeRejected(f"line {exc.lineno}: syntax error: {exc.msg}{detail}") from exc
    except ValueError as exc:  # e.g. NUL bytes
        raise CodeRejected(f"the code cannot be parsed: {exc}") from exc


def _prelude_names() -> frozenset[str]:
    names: set[str] = set()
    for node in parse_module(COMPAT_PRELUDE).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


_KNOWN_NAMES = MANIM_NAMES | _prelude_names() | frozenset(dir(builtins)) | {"__name__", "__file__"}


def _check_names_defined(tree: ast.Module) -> None:
    """Refuse loads of names nothing defines: a NameError caught before a render is spent."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and any(alias.name == "*" for alias in node.names)
            and node.module != "manim"
        ):
            return  # another star import: its names are unknown here, do not guess
    bound = names_bound_by(tree)
    undefined: dict[str, int] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id not in bound
            and node.id not in _KNOWN_NAMES
        ):
            line = getattr(node, "lineno", 0)
            undefined[node.id] = min(undefined.get(node.id, line), line) if node.id in undefined else line
    if undefined:
        listed = sorted(undefined.items(), key=lambda item: item[1])[:_MAX_UNDEFINED_LISTED]
        described = ", ".join(f"`{name}` (line {line})" for name, line in listed)
        raise CodeRejected(
            f"undefined names: {described}; they are neither Manim Community {MANIM_VERSION} names "
            "nor defined in the code"
        )
