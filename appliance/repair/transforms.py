"""The model-free repairs, applied in order to a parsed scene module."""

from __future__ import annotations

import ast
from collections.abc import Callable

from appliance.repair import axes, latex, points, renames, structure
from appliance.repair.context import RepairContext

Repair = Callable[[RepairContext], None]

# Order matters: imports first (old manimlib names become resolvable), CONFIG dicts
# before GraphScene (which reads the class attributes they become), calls before bare
# names (TextMobject(...) chooses Text or Tex; a bare TextMobject is just renamed).
REPAIRS: tuple[Repair, ...] = (
    structure.fix_imports,
    structure.drop_runner_code,
    structure.convert_config_dicts,
    axes.replace_graph_scene,
    renames.rewrite_old_calls,
    renames.rewrite_apply_method,
    renames.rename_names,
    renames.fix_color_strings,
    renames.rename_methods,
    latex.fix_latex_calls,
    axes.fix_axes_arguments,
    points.pad_2d_points,
    structure.upgrade_scene_base,
    structure.fix_zero_durations,
    structure.drop_sounds,
)


def repair_tree(tree: ast.Module) -> RepairContext:
    """Apply every repair to ``tree`` in place; the context lists what changed."""
    ctx = RepairContext.for_tree(tree)
    for repair in REPAIRS:
        repair(ctx)
    return ctx


def ensure_video(ctx: RepairContext, scene_name: str) -> None:
    """Run once the scene to render is known."""
    structure.ensure_video(ctx, scene_name)
