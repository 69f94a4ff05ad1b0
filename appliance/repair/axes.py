"""Coordinate systems: old ``x_min``-style arguments and the removed ``GraphScene``.

Manim Community describes every axis by a range list, ``x_range=[min, max, step]``;
older code passed ``x_min``, ``x_max`` and a ``tick_frequency``. ``GraphScene``
(axes built into the scene, ``self.get_graph``) became a plain ``Scene`` that
owns an ``Axes`` object: ``self.axes.plot``.
"""

from __future__ import annotations

import ast

from appliance.repair.context import (
    ContextTransformer,
    RepairContext,
    construct_method,
    expr,
    keyword,
    pop_keyword,
    set_keyword,
    stmt,
)
from appliance.repair.renames import merge_range_keywords
from appliance.repair.scenes import base_names

AXES_CLASSES = frozenset({"Axes", "ThreeDAxes", "NumberPlane", "ComplexPlane", "PolarPlane"})
AXIS_CONFIG_KEYWORDS = ("axis_config", "x_axis_config", "y_axis_config", "z_axis_config")

# Keys of an axis config dict that NumberLine no longer takes, and what replaces them.
OBSOLETE_AXIS_KEYS: dict[str, str | None] = {
    "tick_frequency": None,  # moved into the range's step (see _axis_step)
    "leftmost_tick": None,
    "number_scale_val": None,
    "line_to_number_vect": None,
    "add_start": None,
    "add_end": None,
    "numbers_to_show": "numbers_to_include",
    "big_tick_numbers": "numbers_with_elongated_ticks",
    "x_min": None,
    "x_max": None,
}

GRAPH_SCENE_DEFAULTS: dict[str, str] = {
    "x_min": "-1", "x_max": "10", "y_min": "-1", "y_max": "10",
    "x_tick_frequency": "1", "y_tick_frequency": "1",
    "x_axis_width": "9", "y_axis_height": "6",
    "axes_color": "GREY",
    "x_axis_label": '"x"', "y_axis_label": '"y"',
}

# self.<old>(...) in a GraphScene -> self.axes.<new>(...)
GRAPH_SCENE_METHODS: dict[str, str] = {
    "get_graph": "plot",
    "coords_to_point": "c2p",
    "point_to_coords": "p2c",
    "input_to_graph_point": "input_to_graph_point",
    "get_graph_label": "get_graph_label",
    "get_area": "get_area",
    "get_riemann_rectangles": "get_riemann_rectangles",
    "get_secant_slope_group": "get_secant_slope_group",
    "get_derivative_graph": "plot_derivative_graph",
    "angle_of_tangent": "angle_of_tangent",
    "slope_of_tangent": "slope_of_tangent",
    "get_parametric_curve": "plot_parametric_curve",
}


def fix_axes_arguments(ctx: RepairContext) -> None:
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        if not ctx.is_manim_name(name):
            continue
        if name in AXES_CLASSES:
            _fix_axes_call(ctx, node, name)
        elif name == "NumberLine":
            _fix_axis_config(ctx, node, "NumberLine", node)
            merge_range_keywords(ctx, node, "x", "x_range", step_keyword="tick_frequency")
            _rename_keyword(node, "numbers_to_show", "numbers_to_include")
        elif name == "ParametricFunction":
            merge_range_keywords(ctx, node, "t", "t_range")
        elif name == "FunctionGraph":
            merge_range_keywords(ctx, node, "x", "x_range")
        elif name == "Surface":
            merge_range_keywords(ctx, node, "u", "u_range")
            merge_range_keywords(ctx, node, "v", "v_range")


def _rename_keyword(node: ast.Call, old: str, new: str) -> None:
    found = keyword(node, old)
    if found is not None and keyword(node, new) is None:
        found.arg = new


def _fix_axes_call(ctx: RepairContext, node: ast.Call, name: str) -> None:
    steps = {axis: _axis_step(ctx, node, axis) for axis in "xyz"}
    for old_frequency, axis in (("x_line_frequency", "x"), ("y_line_frequency", "y")):
        frequency = pop_keyword(node, old_frequency)
        if frequency is not None:
            steps[axis] = frequency
    for axis in "xyz":
        step_value = steps[axis]
        changed = merge_range_keywords(ctx, node, axis, f"{axis}_range")
        if step_value is None:
            continue
        axis_range = keyword(node, f"{axis}_range")
        if axis_range is None and not changed:
            # Only a step was given: keep the default span, set the step.
            span = expr("config.frame_x_radius" if axis == "x" else "config.frame_y_radius")
            span_range = ast.List(elts=[ast.UnaryOp(op=ast.USub(), operand=span), span, step_value])
            set_keyword(node, f"{axis}_range", span_range)
        elif axis_range is not None and isinstance(axis_range.value, ast.List | ast.Tuple):
            elements = axis_range.value.elts
            if len(elements) == 2:
                elements.append(step_value)
        ctx.note(f"{name}: tick frequency -> step of {axis}_range")
    number_line_config = pop_keyword(node, "number_line_config")
    if number_line_config is not None and keyword(node, "axis_config") is None:
        set_keyword(node, "axis_config", number_line_config)
        ctx.note(f"{name}(number_line_config=...) -> {name}(axis_config=...)")
    for config_keyword in AXIS_CONFIG_KEYWORDS:
        found = keyword(node, config_keyword)
        if found is not None:
            _fix_axis_config(ctx, found.value, name, node)


def _axis_step(ctx: RepairContext, node: ast.Call, axis: str) -> ast.expr | None:
    """Pull ``tick_frequency`` out of ``{axis}_axis_config``: it is now the range's step."""
    found = keyword(node, f"{axis}_axis_config")
    if found is None or not isinstance(found.value, ast.Dict):
        return None
    config = found.value
    for index, key in enumerate(config.keys):
        if isinstance(key, ast.Constant) and key.value == "tick_frequency":
            step = config.values[index]
            del config.keys[index]
            del config.values[index]
            return step
    return None


def _fix_axis_config(ctx: RepairContext, config: ast.AST, owner: str, call: ast.Call) -> None:
    if owner == "NumberLine":
        # NumberLine takes these as keywords directly.
        for old, new in OBSOLETE_AXIS_KEYS.items():
            if old in ("tick_frequency", "x_min", "x_max"):
                continue
            value = pop_keyword(call, old)
            if value is not None:
                if new:
                    set_keyword(call, new, value)
                ctx.note(f"NumberLine({old}=...) -> " + (f"NumberLine({new}=...)" if new else "dropped"))
        return
    if not isinstance(config, ast.Dict):
        return
    keep_keys: list[ast.expr | None] = []
    keep_values: list[ast.expr] = []
    for key, value in zip(config.keys, config.values, strict=True):
        if isinstance(key, ast.Constant) and key.value in OBSOLETE_AXIS_KEYS:
            new = OBSOLETE_AXIS_KEYS[str(key.value)]
            ctx.note(f"{owner} axis config: {key.value!r} -> {new or 'dropped'}")
            if new is None:
                continue
            key = ast.Constant(value=new)
        keep_keys.append(key)
        keep_values.append(value)
    config.keys = keep_keys
    config.values = keep_values


# -- GraphScene ------------------------------------------------------------------------------


def replace_graph_scene(ctx: RepairContext) -> None:
    if not ctx.is_missing_name("GraphScene"):
        return
    for node in ctx.tree.body:
        if isinstance(node, ast.ClassDef) and "GraphScene" in base_names(node):
            _convert_graph_scene(ctx, node)


def _convert_graph_scene(ctx: RepairContext, node: ast.ClassDef) -> None:
    settings = dict(GRAPH_SCENE_DEFAULTS)
    body = list(node.body)
    for item in node.body:
        name = _class_attribute_name(item)
        if name is not None and (name in GRAPH_SCENE_DEFAULTS or name == "graph_origin"):
            assert isinstance(item, ast.Assign)
            # Kept as class attributes too: the scene's own code may read self.x_max.
            settings[name] = ast.unparse(item.value)
    node.body = body or [ast.Pass()]
    node.bases = [
        ast.Name(id="Scene", ctx=ast.Load()) if (isinstance(b, ast.Name) and b.id == "GraphScene") else b
        for b in node.bases
    ]
    construct = construct_method(node)
    if construct is not None:
        construct.body[0:0] = _axes_statements(settings)
    _AxesMethodRewriter(ctx).visit(node)
    ctx.note(f"class {node.name}: GraphScene -> Scene with self.axes = Axes(...)")


def _class_attribute_name(item: ast.stmt) -> str | None:
    if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
        return item.targets[0].id
    return None


def _axes_statements(settings: dict[str, str]) -> list[ast.stmt]:
    statements = [
        stmt(
            "self.axes = Axes("
            f"x_range=[{settings['x_min']}, {settings['x_max']}, {settings['x_tick_frequency']}], "
            f"y_range=[{settings['y_min']}, {settings['y_max']}, {settings['y_tick_frequency']}], "
            f"x_length={settings['x_axis_width']}, y_length={settings['y_axis_height']}, "
            f"axis_config={{'color': {settings['axes_color']}}})"
        )
    ]
    if "graph_origin" in settings:
        statements.append(stmt(f"self.axes.shift(({settings['graph_origin']}) - self.axes.c2p(0, 0))"))
    labels = []
    for axis in ("x", "y"):
        label = settings[f"{axis}_axis_label"]
        labels.append(f"{axis}_label={_without_dollars(label)}")
    statements.append(stmt(f"self.axes_labels = self.axes.get_axis_labels({', '.join(labels)})"))
    return statements


def _without_dollars(label_source: str) -> str:
    try:
        value = ast.literal_eval(label_source)
    except (ValueError, SyntaxError):
        return label_source
    if value is None:
        return '""'
    return repr(str(value).replace("$", ""))


class _AxesMethodRewriter(ContextTransformer):
    """``self.get_graph(...)`` -> ``self.axes.plot(...)`` and the rest of GraphScene's API."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        call = node.value
        if isinstance(call, ast.Call) and _is_self_method(call.func, "setup_axes"):
            animate = pop_keyword(call, "animate")
            animated = animate is not None and not (isinstance(animate, ast.Constant) and not animate.value)
            if call.args:
                first = call.args[0]
                animated = not (isinstance(first, ast.Constant) and not first.value)
            source = (
                "self.play(Create(self.axes), Write(self.axes_labels))"
                if animated
                else "self.add(self.axes, self.axes_labels)"
            )
            self.ctx.note(f"self.setup_axes() -> {source}")
            return ast.copy_location(stmt(source), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if not isinstance(func, ast.Attribute) or not _is_self(func.value):
            return node
        old = func.attr
        if old == "get_vertical_line_to_graph" and len(node.args) >= 2:
            x_value, graph = node.args[0], node.args[1]
            point = ast.Call(func=expr("self.axes.i2gp"), args=[x_value, graph], keywords=[])
            pop_keyword(node, "line_class")
            self.ctx.note("self.get_vertical_line_to_graph(x, g) -> self.axes.get_vertical_line(self.axes.i2gp(x, g))")
            return ast.copy_location(
                ast.Call(func=expr("self.axes.get_vertical_line"), args=[point], keywords=node.keywords), node
            )
        if old not in GRAPH_SCENE_METHODS:
            return node
        new = GRAPH_SCENE_METHODS[old]
        node.func = ast.Attribute(value=expr("self.axes"), attr=new, ctx=ast.Load())
        if old in ("get_graph", "get_derivative_graph"):
            merge_range_keywords(self.ctx, node, "x", "x_range")
        elif old == "get_area":
            low = node.args.pop(1) if len(node.args) >= 3 else pop_keyword(node, "t_min")
            high = node.args.pop(1) if len(node.args) >= 2 else pop_keyword(node, "t_max")
            if low is not None and high is not None:
                set_keyword(node, "x_range", ast.List(elts=[low, high], ctx=ast.Load()))
        elif old == "get_riemann_rectangles":
            merge_range_keywords(self.ctx, node, "x", "x_range")
        self.ctx.note(f"self.{old}(...) -> self.axes.{new}(...)")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if node.attr in ("x_axis", "y_axis") and _is_self(node.value):
            self.ctx.note(f"self.{node.attr} -> self.axes.{node.attr}")
            return ast.copy_location(
                ast.Attribute(value=expr("self.axes"), attr=node.attr, ctx=node.ctx), node
            )
        return node


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_self_method(func: ast.AST, name: str) -> bool:
    return isinstance(func, ast.Attribute) and func.attr == name and _is_self(func.value)
