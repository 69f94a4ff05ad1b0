"""2-D points written as literals, where Manim needs 3-D ones.

``Line((-2, 1), (2, 1))`` or ``dot.move_to([1, 2])`` fail in Manim with a numpy
broadcast error; the literal gets its missing ``0``. Points computed at run time
(``np.array([x, y])`` stored in a variable) are padded by the compatibility
prelude instead, where the value is known.
"""

from __future__ import annotations

import ast

from appliance.repair.context import RepairContext, call_name

# Callables whose positional arguments at these indexes are points; None: all of them.
POINT_POSITIONS: dict[str, tuple[int, ...] | None] = {
    "Line": (0, 1), "DashedLine": (0, 1), "Arrow": (0, 1), "DoubleArrow": (0, 1),
    "Dot": (0,), "Dot3D": (0,), "Point": (0,), "ArcBetweenPoints": (0, 1), "CurvedArrow": (0, 1),
    "CurvedDoubleArrow": (0, 1), "Polygon": None, "Polyline": None, "CubicBezier": None,
    "Line3D": (0, 1), "Arrow3D": (0, 1),
    "move_to": (0,), "shift": None, "next_to": (0, 1), "align_to": (0, 1),
    "put_start_and_end_on": (0, 1), "add_line_to": (0,), "start_new_path": (0,),
    "move_arc_center_to": (0,), "get_critical_point": (0,), "to_edge": (0,), "to_corner": (0,),
}
# Callables taking a list of points at these positions.
POINT_LIST_POSITIONS: dict[str, tuple[int, ...]] = {
    "set_points_as_corners": (0,), "set_points_smoothly": (0,), "Polygram": (0,),
    "add_points_as_corners": (0,),
}
POINT_KEYWORDS = frozenset({
    "start", "end", "point", "arc_center", "about_point", "location", "start_point", "end_point",
    "target_position", "center", "aligned_edge", "direction", "edge", "corner", "position",
})


def pad_2d_points(ctx: RepairContext) -> None:
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node)
        if name is None:
            continue
        if name in POINT_POSITIONS:
            positions = POINT_POSITIONS[name]
            for index, argument in enumerate(node.args):
                if positions is None or index in positions:
                    _pad_point(ctx, argument)
        if name in POINT_LIST_POSITIONS:
            for index in POINT_LIST_POSITIONS[name]:
                if index < len(node.args) and isinstance(node.args[index], ast.List | ast.Tuple):
                    point_list = node.args[index]
                    assert isinstance(point_list, ast.List | ast.Tuple)
                    for point in point_list.elts:
                        _pad_point(ctx, point)
        if name in POINT_POSITIONS or name in POINT_LIST_POSITIONS or name[:1].isupper():
            for kw in node.keywords:
                if kw.arg in POINT_KEYWORDS:
                    _pad_point(ctx, kw.value)


def _pad_point(ctx: RepairContext, node: ast.AST) -> None:
    literal = _point_literal(node)
    if literal is None or len(literal.elts) != 2:
        return
    if not all(_is_scalar(element) for element in literal.elts):
        return
    literal.elts.append(ast.Constant(value=0))
    ctx.note("2-D point literals -> 3-D (added z = 0)")


def _point_literal(node: ast.AST) -> ast.List | ast.Tuple | None:
    if isinstance(node, ast.List | ast.Tuple):
        return node
    # np.array([x, y]) / numpy.array((x, y))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "array"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.List | ast.Tuple)
    ):
        return node.args[0]
    return None


def _is_scalar(node: ast.AST) -> bool:
    """A number-like expression, never a point, string or nested sequence."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_scalar(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_scalar(node.left) and _is_scalar(node.right)
    if isinstance(node, ast.Name):
        # UP, LEFT, ORIGIN ... are vectors; lower-case names are usually numbers.
        return not node.id.isupper() or node.id in ("PI", "TAU", "DEGREES")
    if isinstance(node, ast.Call):
        name = call_name(node)
        return name in ("cos", "sin", "tan", "sqrt", "exp", "log", "float", "int", "abs", "round",
                        "get_x", "get_y", "get_value", "radians")
    if isinstance(node, ast.Attribute):
        return node.attr in ("frame_x_radius", "frame_y_radius", "frame_width", "frame_height", "pi")
    return isinstance(node, ast.Subscript)
