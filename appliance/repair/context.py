"""What every repair shares: the tree, the log of repairs applied, small AST helpers."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.python_syntax import parse_expression, parse_module
from appliance.repair.manim_names import MANIM_NAMES
from appliance.repair.scenes import scene_classes


@dataclass
class RepairContext:
    """One module being repaired; ``repairs`` lists what was changed, in words."""

    tree: ast.Module
    repairs: list[str] = field(default_factory=list)
    bound_names: frozenset[str] = frozenset()

    @classmethod
    def for_tree(cls, tree: ast.Module) -> RepairContext:
        return cls(tree=tree, bound_names=frozenset(names_bound_by(tree)))

    def note(self, repair: str) -> None:
        if repair not in self.repairs:
            self.repairs.append(repair)

    def drop_statements(self, unwanted: Callable[[ast.stmt], bool], note: str) -> None:
        """Remove every statement ``unwanted`` picks, in any block (a block left empty gets
        ``pass``), noting ``note`` when something was removed."""
        for node in ast.walk(self.tree):
            for field_name in ("body", "orelse", "finalbody"):
                statements = getattr(node, field_name, None)
                if not isinstance(statements, list):
                    continue
                kept = [statement for statement in statements if not unwanted(statement)]
                if len(kept) != len(statements):
                    self.note(note)
                    statements[:] = kept or [ast.Pass()]

    def is_manim_name(self, name: str) -> bool:
        """True when ``name`` resolves to Manim's own object (the code does not rebind it)."""
        return name in MANIM_NAMES and name not in self.bound_names

    def is_missing_name(self, name: str) -> bool:
        """True when neither Manim nor the code defines ``name``: a candidate for a rename."""
        return name not in MANIM_NAMES and name not in self.bound_names


def names_bound_by(tree: ast.AST) -> set[str]:
    """Every name the code binds anywhere (scope-insensitive on purpose: no false alarms)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            if node.name != "*":
                bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def expr(source: str) -> ast.expr:
    """An expression node from source text (for building replacements readably)."""
    return parse_expression(source).body


def stmt(source: str) -> ast.stmt:
    return parse_module(source).body[0]


def call_name(node: ast.Call) -> str | None:
    """``Foo`` for ``Foo(...)`` and ``m.foo`` -> ``foo`` for method calls."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def is_self_call(node: ast.AST, method: str) -> bool:
    """``self.<method>(...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    )


def keyword(node: ast.Call, name: str) -> ast.keyword | None:
    return next((kw for kw in node.keywords if kw.arg == name), None)


def pop_keyword(node: ast.Call, name: str) -> ast.expr | None:
    found = keyword(node, name)
    if found is None:
        return None
    node.keywords.remove(found)
    return found.value


def set_keyword(node: ast.Call, name: str, value: ast.expr) -> None:
    existing = keyword(node, name)
    if existing is not None:
        existing.value = value
    else:
        node.keywords.append(ast.keyword(arg=name, value=value))


def is_number(node: ast.AST) -> bool:
    """A numeric literal, possibly negated: ``2``, ``-1.5``."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(
        node.value, bool
    )


def negated(node: ast.expr) -> ast.expr:
    """``-node``, folding ``-(-x)`` and ``-UP`` readably."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    return ast.UnaryOp(op=ast.USub(), operand=node)


def short(node: ast.AST, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scene_class_nodes(tree: ast.Module) -> list[ast.ClassDef]:
    return list(scene_classes(tree).values())


def construct_method(node: ast.ClassDef) -> ast.FunctionDef | None:
    return next(
        (item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == "construct"),
        None,
    )


class ContextTransformer(ast.NodeTransformer):
    """A tree rewrite that notes what it changes in its ``RepairContext``."""

    def __init__(self, ctx: RepairContext) -> None:
        self.ctx = ctx
