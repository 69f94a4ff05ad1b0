"""Repairs of a module's shape: imports, old-style CONFIG dicts, the scene base, a scene with no video."""

from __future__ import annotations

import ast

from appliance.repair.context import (
    ContextTransformer,
    RepairContext,
    construct_method,
    expr,
    is_self_call,
    scene_class_nodes,
    stmt,
)
from appliance.repair.scenes import base_names

# 3b1b's manim and its early forks; everything they exported has a Community name.
OLD_MANIM_MODULES = ("manimlib", "manim_imports_ext", "big_ol_pile_of_manim_imports", "manimce")

# Renderer settings belong to the sandbox (quality, output paths, preview windows);
# a scene setting them would fight the runner. Look settings (background_color,
# frame_width) stay.
RENDERER_CONFIG_KEYS = frozenset({
    "preview", "media_dir", "video_dir", "images_dir", "output_file", "quality", "pixel_width",
    "pixel_height", "frame_rate", "write_to_movie", "save_last_frame", "format", "renderer",
    "disable_caching", "flush_cache", "movie_file_extension", "log_dir", "tex_dir", "text_dir",
    "partial_movie_dir", "from_animation_number", "upto_animation_number", "dry_run", "show_in_file_browser",
    "save_as_gif", "transparent", "media_width", "verbosity", "progress_bar",
})

THREE_D_SCENE_METHODS = frozenset({
    "set_camera_orientation", "move_camera", "begin_ambient_camera_rotation",
    "stop_ambient_camera_rotation", "add_fixed_in_frame_mobjects", "add_fixed_orientation_mobjects",
    "begin_3dillusion_camera_rotation", "stop_3dillusion_camera_rotation",
})

ANIMATING_METHODS = frozenset({"play", "wait", "pause", "wait_until"})


def fix_imports(ctx: RepairContext) -> None:
    """Old manim imports become ``from manim import *``; add it when it is missing."""
    body: list[ast.stmt] = []
    has_star = False
    for node in ctx.tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in OLD_MANIM_MODULES:
            ctx.note(f"from {node.module} import ... -> from manim import *")
            node = stmt("from manim import *")
        elif isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] in OLD_MANIM_MODULES for alias in node.names
        ):
            ctx.note(f"import {node.names[0].name} -> from manim import *")
            node = stmt("from manim import *")
        if isinstance(node, ast.ImportFrom) and node.module == "manim" and node.names[0].name == "*":
            if has_star:
                continue  # a second star import (from the rewrite above) adds nothing
            has_star = True
        body.append(node)
    if not has_star:
        position = _after_docstring_and_future(body)
        body.insert(position, stmt("from manim import *"))
        ctx.note("added the missing `from manim import *`")
    ctx.tree.body = body


def _after_docstring_and_future(body: list[ast.stmt]) -> int:
    position = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        position = 1
    while (
        position < len(body)
        and isinstance(body[position], ast.ImportFrom)
        and getattr(body[position], "module", "") == "__future__"
    ):
        position += 1
    return position


def drop_runner_code(ctx: RepairContext) -> None:
    """Remove what renders or configures rendering by itself: the sandbox runner does that."""
    scene_names = {node.name for node in scene_class_nodes(ctx.tree)}
    kept: list[ast.stmt] = []
    for node in ctx.tree.body:
        if _is_main_guard(node):
            ctx.note("removed the `if __name__ == '__main__':` block (the renderer runs the scene)")
            continue
        if _renders_a_scene(node, scene_names):
            ctx.note("removed top-level code that renders the scene (the renderer runs it)")
            continue
        kept.append(node)
    ctx.tree.body = kept
    _RendererConfigRemover(ctx).visit(ctx.tree)


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    return any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)


def _renders_a_scene(node: ast.stmt, scene_names: set[str]) -> bool:
    value = node.value if isinstance(node, ast.Expr | ast.Assign) else None
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr == "render":
        return True
    return isinstance(func, ast.Name) and func.id in scene_names


class _RendererConfigRemover(ContextTransformer):
    def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
        key = _config_key(node.targets[0]) if len(node.targets) == 1 else None
        if key in RENDERER_CONFIG_KEYS:
            self.ctx.note(f"removed `config.{key} = ...` (the renderer sets it)")
            return ast.Pass()
        return node


def _config_key(target: ast.expr) -> str | None:
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "config":
        return target.attr
    if (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Name)
        and target.value.id == "config"
        and isinstance(target.slice, ast.Constant)
        and isinstance(target.slice.value, str)
    ):
        return target.slice.value
    return None


def convert_config_dicts(ctx: RepairContext) -> None:
    """``CONFIG = {"key": value}`` (old manimlib) becomes class attributes ``key = value``."""
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.ClassDef):
            continue
        new_body: list[ast.stmt] = []
        for item in node.body:
            config = _config_dict(item)
            if config is None:
                new_body.append(item)
                continue
            camera_settings: list[ast.stmt] = []
            for key, value in zip(config.keys, config.values, strict=True):
                assert isinstance(key, ast.Constant)
                name = str(key.value)
                if name == "camera_config" and isinstance(value, ast.Dict):
                    camera_settings.extend(_camera_settings(value))
                    continue
                new_body.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))
            if camera_settings:
                construct = construct_method(node)
                if construct is not None:
                    construct.body[0:0] = camera_settings
            ctx.note(f"class {node.name}: CONFIG dict -> class attributes")
        node.body = new_body or [ast.Pass()]
    _drop_digest_config(ctx)


def _config_dict(item: ast.stmt) -> ast.Dict | None:
    if not (
        isinstance(item, ast.Assign)
        and len(item.targets) == 1
        and isinstance(item.targets[0], ast.Name)
        and item.targets[0].id == "CONFIG"
        and isinstance(item.value, ast.Dict)
    ):
        return None
    keys = item.value.keys
    if all(isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value.isidentifier() for k in keys):
        return item.value
    return None


def _camera_settings(camera_config: ast.Dict) -> list[ast.stmt]:
    settings: list[ast.stmt] = []
    for key, value in zip(camera_config.keys, camera_config.values, strict=True):
        if isinstance(key, ast.Constant) and key.value == "background_color":
            assignment = stmt("self.camera.background_color = VALUE")
            assert isinstance(assignment, ast.Assign)
            assignment.value = value
            settings.append(assignment)
    return settings


def _drop_digest_config(ctx: RepairContext) -> None:
    if "digest_config" in ctx.bound_names:
        return
    ctx.drop_statements(_is_digest_config_call, "removed digest_config(...) (CONFIG values are class attributes now)")


def _is_digest_config_call(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "digest_config"
    )


def upgrade_scene_base(ctx: RepairContext) -> None:
    """A plain Scene that moves ``self.camera.frame`` or a 3-D camera gets the scene type it needs."""
    for node in scene_class_nodes(ctx.tree):
        if "Scene" not in base_names(node):
            continue
        needed = _needed_scene_type(node)
        if needed is None:
            continue
        for index, base in enumerate(node.bases):
            if isinstance(base, ast.Name) and base.id == "Scene":
                node.bases[index] = ast.Name(id=needed, ctx=ast.Load())
        ctx.note(f"class {node.name}: Scene -> {needed} (it uses the {needed} camera)")


def _needed_scene_type(node: ast.ClassDef) -> str | None:
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
            owner = child.func.value
            if (
                isinstance(owner, ast.Name)
                and owner.id == "self"
                and child.func.attr in THREE_D_SCENE_METHODS
            ):
                return "ThreeDScene"
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Attribute)
            and child.attr == "frame"
            and isinstance(child.value, ast.Attribute)
            and child.value.attr == "camera"
            and isinstance(child.value.value, ast.Name)
            and child.value.value.id == "self"
        ):
            return "MovingCameraScene"
    return None


def ensure_video(ctx: RepairContext, scene_name: str) -> None:
    """A scene that never plays or waits renders a still image, not a video: add a wait."""
    for node in ast.walk(ctx.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ANIMATING_METHODS
        ):
            return
    scene = next((n for n in scene_class_nodes(ctx.tree) if n.name == scene_name), None)
    construct = construct_method(scene) if scene else None
    if construct is None:
        return
    construct.body.append(stmt("self.wait()"))
    ctx.note("the scene played no animation: added `self.wait()` at the end so a video is produced")


def drop_sounds(ctx: RepairContext) -> None:
    """``self.add_sound("file.wav")``: the renderer has no sound files and videos are silent."""
    ctx.drop_statements(_is_add_sound, "removed self.add_sound(...) (videos are silent; there are no sound files)")


def _is_add_sound(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and is_self_call(statement.value, "add_sound")


def fix_zero_durations(ctx: RepairContext) -> None:
    """``self.wait(0)`` and ``run_time=0`` are refused by Manim; a wait of 0 is dropped,
    an instant animation gets the shortest run time that still shows a frame."""
    ctx.drop_statements(_is_zero_wait, "removed self.wait(0) (Manim refuses a zero-length wait)")
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "run_time" and _is_zero(kw.value):
                    kw.value = expr("0.1")
                    ctx.note("run_time=0 -> run_time=0.1 (Manim refuses a zero-length animation)")


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and node.value <= 0


def _is_zero_wait(statement: ast.stmt) -> bool:
    if not (isinstance(statement, ast.Expr) and is_self_call(statement.value, "wait")):
        return False
    call = statement.value
    assert isinstance(call, ast.Call)
    duration = call.args[0] if call.args else next(
        (kw.value for kw in call.keywords if kw.arg == "duration"), None
    )
    return duration is not None and _is_zero(duration)
