"""Find the Scene subclasses of a module and pick the one to render."""

from __future__ import annotations

import ast

from appliance.errors import CodeRejected

# Names the prompts ask for; a class with one of these names is the intended scene.
PREFERRED_SCENE_NAMES: tuple[str, ...] = ("SolutionScene", "ManimScene", "MainScene", "GenScene")


def base_names(node: ast.ClassDef) -> list[str]:
    """The last dotted component of each base: ``manim.Scene`` -> ``Scene``."""
    names: list[str] = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def scene_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """Top-level classes deriving (directly or through the module's own classes) from a *Scene."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    scenes: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for name, node in classes.items():
            if name in scenes:
                continue
            if any(base.endswith("Scene") or base in scenes for base in base_names(node)):
                scenes[name] = node
                changed = True
    return {name: node for name, node in classes.items() if name in scenes}


def class_chain(tree: ast.Module, name: str) -> list[ast.ClassDef]:
    """The class and its in-module ancestors, nearest first."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    chain: list[ast.ClassDef] = []
    pending = [name]
    while pending:
        current = classes.get(pending.pop(0))
        if current is None or current in chain:
            continue
        chain.append(current)
        pending.extend(base_names(current))
    return chain


def defines_method(tree: ast.Module, class_name: str, method: str) -> bool:
    return any(
        isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == method
        for node in class_chain(tree, class_name)
        for item in node.body
    )


def pick_scene(tree: ast.Module) -> str:
    """The name of the scene to render; ``CodeRejected`` when there is none."""
    scenes = scene_classes(tree)
    if not scenes:
        raise CodeRejected(
            "the code defines no Scene subclass: write one class, e.g. "
            "`class SolutionScene(Scene):` with a `def construct(self):` method"
        )
    used_as_base = {base for node in scenes.values() for base in base_names(node)}
    leaves = [name for name in scenes if name not in used_as_base] or list(scenes)
    renderable = [name for name in leaves if defines_method(tree, name, "construct")]
    if not renderable:
        raise CodeRejected(
            f"line {scenes[leaves[-1]].lineno}: class {leaves[-1]} has no `construct(self)` method, "
            "so it would render nothing"
        )
    for preferred in PREFERRED_SCENE_NAMES:
        if preferred in renderable:
            return preferred
    # The most complete scene wins; on a tie the last one (models put the final
    # version last).
    return max(reversed(renderable), key=lambda name: _statement_count(scenes[name]))


def _statement_count(node: ast.ClassDef) -> int:
    return sum(isinstance(child, ast.stmt) for child in ast.walk(node))
