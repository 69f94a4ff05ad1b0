"""Names and calls that Manim Community 0.19 no longer has, rewritten to their current form.

Each rewrite only touches a name the code does not define itself and that Manim
does not export any more, so a scene's own ``ShowCreation`` helper stays its own.
"""

from __future__ import annotations

import ast

from appliance.repair.context import (
    ContextTransformer,
    RepairContext,
    call_name,
    expr,
    keyword,
    negated,
    pop_keyword,
    set_keyword,
    short,
)

# Same call, new name.
RENAMED_NAMES: dict[str, str] = {
    "ShowCreation": "Create",
    "TexText": "Tex",
    "OldTexText": "Tex",
    "OldTex": "MathTex",
    "TextMobject": "Tex",  # only when not called (isinstance checks); calls are handled below
    "TexMobject": "MathTex",
    "ParametricSurface": "Surface",
    "WiggleOutThenIn": "Wiggle",
    "VFadeIn": "FadeIn",
    "VFadeOut": "FadeOut",
    "get_norm": "np.linalg.norm",
    "FRAME_WIDTH": "config.frame_width",
    "FRAME_HEIGHT": "config.frame_height",
    "FRAME_X_RADIUS": "config.frame_x_radius",
    "FRAME_Y_RADIUS": "config.frame_y_radius",
    "DEFAULT_MOBJECT_TO_MOBJECT_BUFFER": "MED_SMALL_BUFF",
}

# Colour names Manim never had or dropped (X11/CSS names models reach for), as hex.
MISSING_COLORS: dict[str, str] = {
    "CYAN": "#00FFFF", "AQUA": "#00FFFF", "MAGENTA": "#FF00FF", "FUCHSIA": "#FF00FF",
    "LIME": "#00FF00", "LIME_GREEN": "#32CD32", "OLIVE": "#808000", "NAVY": "#000080",
    "NAVY_BLUE": "#000080", "INDIGO": "#4B0082", "LAVENDER": "#E6E6FA", "VIOLET": "#EE82EE",
    "BROWN": "#A52A2A", "CRIMSON": "#DC143C", "SILVER": "#C0C0C0", "BEIGE": "#F5F5DC",
    "TAN": "#D2B48C", "SALMON": "#FA8072", "CORAL": "#FF7F50", "TURQUOISE": "#40E0D0",
    "KHAKI": "#F0E68C", "SKY_BLUE": "#87CEEB", "LIGHT_BLUE": "#ADD8E6", "DARK_GREEN": "#006400",
    "LIGHT_GREEN": "#90EE90", "DARK_RED": "#8B0000", "LIGHT_RED": "#FF7F7F",
    "DARK_PURPLE": "#5B2C83", "LIGHT_PURPLE": "#CBC3E3", "LIGHT_YELLOW": "#FFFFE0",
    "DARK_YELLOW": "#9B870C", "DARK_ORANGE": "#FF8C00", "LIGHT_ORANGE": "#FFD580",
    "HOT_PINK": "#FF69B4", "DEEP_PINK": "#FF1493", "DARK_PINK": "#AA336A",
    "FOREST_GREEN": "#228B22", "SEA_GREEN": "#2E8B57", "CHOCOLATE": "#D2691E", "IVORY": "#FFFFF0",
    "AZURE": "#F0FFFF", "MINT": "#98FF98", "PLUM": "#DDA0DD", "ORCHID": "#DA70D6",
    "SCARLET": "#FF2400", "AMBER": "#FFBF00", "EMERALD": "#50C878", "CHARTREUSE": "#7FFF00",
    "PEACH": "#FFE5B4", "BLUE_VIOLET": "#8A2BE2", "DARK_CYAN": "#008B8B", "LIGHT_CYAN": "#E0FFFF",
    "STEEL_BLUE": "#4682B4", "ROYAL_BLUE": "#4169E1", "MIDNIGHT_BLUE": "#191970",
    "DODGER_BLUE": "#1E90FF", "DEEP_SKY_BLUE": "#00BFFF", "SLATE_GRAY": "#708090",
    "SLATE_GREY": "#708090", "DIM_GRAY": "#696969", "DIM_GREY": "#696969", "TOMATO": "#FF6347",
    "FIREBRICK": "#B22222", "GOLDENROD": "#DAA520", "WHEAT": "#F5DEB3", "SIENNA": "#A0522D",
    "ORANGE_RED": "#FF4500", "YELLOW_GREEN": "#9ACD32", "SPRING_GREEN": "#00FF7F",
    "AQUAMARINE": "#7FFFD4", "DARK_MAGENTA": "#8B008B", "DARK_VIOLET": "#9400D3",
    "DARK_GOLD": "#B8860B", "LIGHT_GOLD": "#FFEC8B", "BRIGHT_GREEN": "#66FF00",
    "BRIGHT_RED": "#FF0000", "BRIGHT_BLUE": "#0096FF", "SKYBLUE": "#87CEEB", "LIGHTBLUE": "#ADD8E6",
    "DARKBLUE": "#00008B", "DARKGREEN": "#006400", "DARKRED": "#8B0000",
}

# Manim's own colour names as strings ("red", "light_gray") parse; others do not.
COLOR_KEYWORDS = frozenset({
    "color", "fill_color", "stroke_color", "background_color", "background_stroke_color",
    "dot_color", "line_color", "tip_color", "label_color", "axis_color", "highlight_color",
})
COLOR_METHODS = frozenset({"set_color", "set_fill", "set_stroke", "set_background_stroke"})

CODE_KEYWORDS = frozenset({
    "code_file", "code_string", "language", "formatter_style", "tab_width", "add_line_numbers",
    "line_numbers_from", "background", "background_config", "paragraph_config",
})
CODE_RENAMED_KEYWORDS = {
    "code": "code_string", "file_name": "code_file", "style": "formatter_style",
    "insert_line_no": "add_line_numbers", "line_no_from": "line_numbers_from",
}
# Old keyword -> key inside the config dict that now carries it.
CODE_GROUPED_KEYWORDS: dict[str, dict[str, str]] = {
    "paragraph_config": {"font": "font", "font_size": "font_size", "line_spacing": "line_spacing"},
    "background_config": {
        "background_stroke_width": "stroke_width",
        "background_stroke_color": "stroke_color",
        "corner_radius": "corner_radius",
    },
}
BAR_CHART_REMOVED_KEYWORDS = (
    "bar_label_scale_val", "label_y_axis", "y_axis_label_height", "n_ticks", "tick_width", "bar_buff",
    "max_value",
)

RENAMED_METHODS: dict[str, str] = {
    "get_graph": "plot",
    "get_parametric_curve": "plot_parametric_curve",
    "get_derivative_graph": "plot_derivative_graph",
    "get_antiderivative_graph": "plot_antiderivative_graph",
    "get_implicit_curve": "plot_implicit_curve",
    "get_line_graph": "plot_line_graph",
}

# Methods that were animated by passing the bound method to play(): self.play(dot.shift, UP).
ANIMATABLE_METHODS = frozenset({
    "shift", "move_to", "next_to", "scale", "rotate", "set_color", "set_fill", "set_stroke",
    "set_opacity", "to_edge", "to_corner", "center", "become", "flip", "stretch", "fade",
    "set_x", "set_y", "set_z", "align_to", "match_height", "match_width", "set_height",
    "set_width", "scale_to_fit_width", "scale_to_fit_height", "arrange", "set_value",
    "increment_value", "put_start_and_end_on", "set_color_by_gradient", "move_arc_center_to",
})

def rename_names(ctx: RepairContext) -> None:
    _NameRenamer(ctx).visit(ctx.tree)


class _NameRenamer(ContextTransformer):
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not isinstance(node.ctx, ast.Load) or not self.ctx.is_missing_name(node.id):
            return node
        if node.id in RENAMED_NAMES:
            replacement = RENAMED_NAMES[node.id]
            self.ctx.note(f"{node.id} -> {replacement}")
            return ast.copy_location(expr(replacement), node)
        if node.id in MISSING_COLORS:
            replacement = f'ManimColor("{MISSING_COLORS[node.id]}")'
            self.ctx.note(f"colour {node.id} (not in Manim) -> {replacement}")
            return ast.copy_location(expr(replacement), node)
        return node


def fix_color_strings(ctx: RepairContext) -> None:
    """``color="cyan"`` names no Manim colour: use its hex value."""
    for node in ast.walk(ctx.tree):
        if not isinstance(node, ast.Call):
            continue
        candidates = [kw.value for kw in node.keywords if kw.arg in COLOR_KEYWORDS]
        if call_name(node) in COLOR_METHODS and isinstance(node.func, ast.Attribute) and node.args:
            candidates.append(node.args[0])
        for candidate in candidates:
            if not (isinstance(candidate, ast.Constant) and isinstance(candidate.value, str)):
                continue
            key = candidate.value.strip().upper().replace(" ", "_")
            if key in MISSING_COLORS and not ctx.is_manim_name(key):
                ctx.note(f'colour "{candidate.value}" (not in Manim) -> "{MISSING_COLORS[key]}"')
                candidate.value = MISSING_COLORS[key]


def rename_methods(ctx: RepairContext) -> None:
    """``axes.get_graph(f, x_min=a, x_max=b)`` -> ``axes.plot(f, x_range=[a, b])`` and kin."""
    for node in ast.walk(ctx.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        old = node.func.attr
        if old in RENAMED_METHODS and old not in ctx.bound_names:
            node.func.attr = RENAMED_METHODS[old]
            ctx.note(f".{old}(...) -> .{RENAMED_METHODS[old]}(...)")
            range_name = "t_range" if "parametric" in old else "x_range"
            prefix = "t" if "parametric" in old else "x"
            merge_range_keywords(ctx, node, prefix, range_name)
        elif old in ("get_area", "get_riemann_rectangles") and old not in ctx.bound_names:
            merge_range_keywords(ctx, node, "x", "x_range")
        elif old == "scale_about_point" and len(node.args) == 2 and old not in ctx.bound_names:
            node.func.attr = "scale"
            set_keyword(node, "about_point", node.args.pop())
            ctx.note(".scale_about_point(f, p) -> .scale(f, about_point=p)")


def merge_range_keywords(
    ctx: RepairContext, node: ast.Call, prefix: str, range_name: str, step_keyword: str | None = None
) -> bool:
    """``x_min=a, x_max=b[, step]`` keywords -> ``x_range=[a, b(, step)]``; True when changed."""
    low = pop_keyword(node, f"{prefix}_min")
    high = pop_keyword(node, f"{prefix}_max")
    step = pop_keyword(node, step_keyword) if step_keyword else None
    if low is None and high is None and step is None:
        return False
    if keyword(node, range_name) is not None:
        return True  # a range is already given: the old keywords were redundant
    low = low if low is not None else expr("-config.frame_x_radius" if prefix == "x" else "-4")
    high = high if high is not None else expr("config.frame_x_radius" if prefix == "x" else "4")
    elements = [low, high] + ([step] if step is not None else [])
    set_keyword(node, range_name, ast.List(elts=elements, ctx=ast.Load()))
    ctx.note(f"{prefix}_min/{prefix}_max -> {range_name}=[...]")
    return True


def rewrite_old_calls(ctx: RepairContext) -> None:
    _OldCallRewriter(ctx).visit(ctx.tree)


class _OldCallRewriter(ContextTransformer):
    """Calls whose class is gone or whose arguments changed meaning."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is not None and self.ctx.is_missing_name(name):
            rewritten = self._rewrite_missing(name, node)
            if rewritten is not None:
                return ast.copy_location(rewritten, node)
        if name is not None and self.ctx.is_manim_name(name):
            self._fix_current_call(name, node)
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "play"
            and any(_is_bound_method(arg) for arg in node.args)
        ):
            self._fix_method_style_play(node)
        return node

    # -- classes that no longer exist -------------------------------------------------------

    def _rewrite_missing(self, name: str, node: ast.Call) -> ast.expr | None:
        handler = getattr(self, f"_rewrite_{name}", None)
        return handler(node) if handler else None

    def _rewrite_TextMobject(self, node: ast.Call) -> ast.expr:
        strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        tex_keywords = {"tex_to_color_map", "arg_separator", "tex_template", "substrings_to_isolate",
                        "tex_environment"}
        needs_latex = (
            len(node.args) != 1
            or len(strings) != len(node.args)
            or any("$" in s or "\\" in s for s in strings)
            or any(kw.arg in tex_keywords for kw in node.keywords)
        )
        new = "Tex" if needs_latex else "Text"
        node.func = ast.Name(id=new, ctx=ast.Load())
        self.ctx.note(f"TextMobject -> {new}")
        return node

    def _rewrite_TexMobject(self, node: ast.Call) -> ast.expr:
        node.func = ast.Name(id="MathTex", ctx=ast.Load())
        self.ctx.note("TexMobject -> MathTex")
        return node

    def _rewrite_CircleIndicate(self, node: ast.Call) -> ast.expr:
        node.func = ast.Name(id="Circumscribe", ctx=ast.Load())
        if len(node.args) == 1 and keyword(node, "shape") is None:
            set_keyword(node, "shape", expr("Circle"))
        self.ctx.note("CircleIndicate -> Circumscribe(..., shape=Circle)")
        return node

    def _rewrite_ShowCreationThenDestruction(self, node: ast.Call) -> ast.expr:
        node.func = ast.Name(id="ShowPassingFlash", ctx=ast.Load())
        if keyword(node, "time_width") is None:
            set_keyword(node, "time_width", expr("2.0"))
        self.ctx.note("ShowCreationThenDestruction -> ShowPassingFlash(..., time_width=2.0)")
        return node

    def _rewrite_ShowCreationThenFadeOut(self, node: ast.Call) -> ast.expr | None:
        if len(node.args) != 1:
            return None
        target = node.args[0]
        replacement = ast.Call(
            func=ast.Name(id="Succession", ctx=ast.Load()),
            args=[
                ast.Call(func=ast.Name(id="Create", ctx=ast.Load()), args=[target], keywords=[]),
                ast.Call(func=ast.Name(id="FadeOut", ctx=ast.Load()), args=[target], keywords=[]),
            ],
            keywords=node.keywords,
        )
        self.ctx.note("ShowCreationThenFadeOut(m) -> Succession(Create(m), FadeOut(m))")
        return replacement

    def _fade(self, node: ast.Call, new: str, old: str, shift: ast.expr | None = None,
              **moved: str) -> ast.expr:
        node.func = ast.Name(id=new, ctx=ast.Load())
        if shift is not None:
            set_keyword(node, "shift", shift)
        for old_keyword, new_keyword in moved.items():
            value = pop_keyword(node, old_keyword)
            if value is not None:
                set_keyword(node, new_keyword, value)
        self.ctx.note(f"{old} -> {new}(..., {'shift' if shift is not None else ', '.join(moved.values())}=...)")
        return node

    def _direction(self, node: ast.Call, default: str) -> ast.expr:
        if len(node.args) >= 2:
            return node.args.pop(1)
        given = pop_keyword(node, "direction")
        return given if given is not None else expr(default)

    def _rewrite_FadeInFrom(self, node: ast.Call) -> ast.expr:
        # The old animation started at the mobject moved by ``direction`` and slid back.
        return self._fade(node, "FadeIn", "FadeInFrom", shift=negated(self._direction(node, "DOWN")))

    def _rewrite_FadeInFromDown(self, node: ast.Call) -> ast.expr:
        return self._fade(node, "FadeIn", "FadeInFromDown", shift=expr("UP"))

    def _rewrite_FadeInFromUp(self, node: ast.Call) -> ast.expr:
        return self._fade(node, "FadeIn", "FadeInFromUp", shift=expr("DOWN"))

    def _rewrite_FadeOutAndShift(self, node: ast.Call) -> ast.expr:
        return self._fade(node, "FadeOut", "FadeOutAndShift", shift=self._direction(node, "DOWN"))

    def _rewrite_FadeOutAndShiftDown(self, node: ast.Call) -> ast.expr:
        return self._fade(node, "FadeOut", "FadeOutAndShiftDown", shift=expr("DOWN"))

    def _rewrite_FadeInFromLarge(self, node: ast.Call) -> ast.expr:
        if len(node.args) >= 2:
            set_keyword(node, "scale", node.args.pop(1))
        elif keyword(node, "scale_factor") is None:
            set_keyword(node, "scale", expr("2"))
        return self._fade(node, "FadeIn", "FadeInFromLarge", scale_factor="scale")

    def _rewrite_FadeInFromPoint(self, node: ast.Call) -> ast.expr:
        if len(node.args) >= 2:
            set_keyword(node, "target_position", node.args.pop(1))
        return self._fade(node, "FadeIn", "FadeInFromPoint", point="target_position")

    def _rewrite_FadeOutToPoint(self, node: ast.Call) -> ast.expr:
        if len(node.args) >= 2:
            set_keyword(node, "target_position", node.args.pop(1))
        return self._fade(node, "FadeOut", "FadeOutToPoint", point="target_position")

    # -- classes that exist but whose arguments changed -------------------------------------

    def _fix_current_call(self, name: str, node: ast.Call) -> None:
        if name in ("Text", "MarkupText", "Paragraph", "Tex", "MathTex", "Title") and keyword(node, "size"):
            size = pop_keyword(node, "size")
            assert size is not None
            set_keyword(node, "font_size", _font_size(size))
            self.ctx.note(f"{name}(size=...) -> {name}(font_size=...)")
        if name == "Code":
            self._fix_code_arguments(node)
        if name == "BarChart":
            self._fix_bar_chart_arguments(node)
        if name == "Sector" and keyword(node, "outer_radius") is not None:
            if keyword(node, "inner_radius") is not None:
                node.func = ast.Name(id="AnnularSector", ctx=ast.Load())
                self.ctx.note("Sector(inner_radius=..., outer_radius=...) -> AnnularSector(...)")
            else:
                found = keyword(node, "outer_radius")
                assert found is not None
                found.arg = "radius"
                self.ctx.note("Sector(outer_radius=...) -> Sector(radius=...)")

    def _fix_code_arguments(self, node: ast.Call) -> None:
        """Code() took ``code=``, ``style=``, ``font=``... before 0.19; it now has no **kwargs."""
        for old, new in CODE_RENAMED_KEYWORDS.items():
            found = keyword(node, old)
            if found is not None and keyword(node, new) is None:
                found.arg = new
                self.ctx.note(f"Code({old}=...) -> Code({new}=...)")
        for group, keys in CODE_GROUPED_KEYWORDS.items():
            if keyword(node, group) is not None:
                continue
            moved = [(old, inner, pop_keyword(node, old)) for old, inner in keys.items()]
            entries = [(old, inner, value) for old, inner, value in moved if value is not None]
            if entries:
                set_keyword(node, group, ast.Dict(keys=[ast.Constant(inner) for _, inner, _ in entries],
                                                  values=[value for _, _, value in entries]))
                self.ctx.note(f"Code({', '.join(old for old, _, _ in entries)}=...) -> Code({group}={{...}})")
        unknown = [kw for kw in node.keywords if kw.arg is not None and kw.arg not in CODE_KEYWORDS]
        for kw in unknown:
            node.keywords.remove(kw)
            self.ctx.note(f"Code({kw.arg}=...) dropped (Manim 0.19 has no such option)")

    def _fix_bar_chart_arguments(self, node: ast.Call) -> None:
        """BarChart(max_value=..., height=...) from before 0.12 -> y_range / y_length."""
        max_value = pop_keyword(node, "max_value")
        if max_value is not None and keyword(node, "y_range") is None:
            step = ast.BinOp(left=max_value, op=ast.Div(), right=ast.Constant(5))
            set_keyword(node, "y_range", ast.List(elts=[ast.Constant(0), max_value, step], ctx=ast.Load()))
            self.ctx.note("BarChart(max_value=m) -> BarChart(y_range=[0, m, m / 5])")
        for old, new in (("height", "y_length"), ("width", "x_length")):
            found = keyword(node, old)
            if found is not None and keyword(node, new) is None:
                found.arg = new
                self.ctx.note(f"BarChart({old}=...) -> BarChart({new}=...)")
        for old in BAR_CHART_REMOVED_KEYWORDS:
            if pop_keyword(node, old) is not None:
                self.ctx.note(f"BarChart({old}=...) dropped (Manim 0.19 has no such option)")

    # -- old play() styles -------------------------------------------------------------------

    def _fix_method_style_play(self, node: ast.Call) -> None:
        """``self.play(m.shift, UP, run_time=2)`` -> ``self.play(m.animate.shift(UP), run_time=2)``."""
        new_args: list[ast.expr] = []
        current: ast.Call | None = None
        for argument in node.args:
            if _is_bound_method(argument):
                assert isinstance(argument, ast.Attribute)
                animate = ast.Attribute(value=argument.value, attr="animate", ctx=ast.Load())
                current = ast.Call(
                    func=ast.Attribute(value=animate, attr=argument.attr, ctx=ast.Load()), args=[], keywords=[]
                )
                new_args.append(current)
                self.ctx.note(f"self.play({short(argument)}, ...) -> self.play({short(argument.value)}"
                              f".animate.{argument.attr}(...))")
            elif current is not None and not _looks_like_animation(argument):
                current.args.append(argument)
            else:
                current = None
                new_args.append(argument)
        node.args = new_args


def _font_size(size: ast.expr) -> ast.expr:
    """Old ``size`` was a scale of the default 48-point text."""
    if isinstance(size, ast.Constant) and isinstance(size.value, int | float):
        return ast.Constant(value=round(size.value * 48))
    return ast.BinOp(left=ast.Constant(value=48), op=ast.Mult(), right=size)


def _is_bound_method(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ANIMATABLE_METHODS
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "np", "math"))
    )


def _looks_like_animation(node: ast.AST) -> bool:
    if isinstance(node, ast.Starred):
        return True
    if isinstance(node, ast.Call):
        name = call_name(node)
        if isinstance(node.func, ast.Name) and name and name[:1].isupper():
            return True
        # m.animate.shift(UP) and friends
        return "animate" in ast.unparse(node.func)
    return False


def rewrite_apply_method(ctx: RepairContext) -> None:
    """``ApplyMethod(m.shift, UP, run_time=2)`` -> ``m.animate(run_time=2).shift(UP)``."""

    class Rewriter(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            if not (
                isinstance(node.func, ast.Name)
                and node.func.id == "ApplyMethod"
                and ctx.is_manim_name("ApplyMethod")
                and node.args
                and isinstance(node.args[0], ast.Attribute)
                and not any(isinstance(a, ast.Starred) for a in node.args)
            ):
                return node
            method = node.args[0]
            assert isinstance(method, ast.Attribute)
            animate: ast.expr = ast.Attribute(value=method.value, attr="animate", ctx=ast.Load())
            if node.keywords:
                animate = ast.Call(func=animate, args=[], keywords=node.keywords)
            replacement = ast.Call(
                func=ast.Attribute(value=animate, attr=method.attr, ctx=ast.Load()),
                args=node.args[1:],
                keywords=[],
            )
            ctx.note(f"ApplyMethod({short(method)}, ...) -> {short(method.value)}.animate.{method.attr}(...)")
            return ast.copy_location(replacement, node)

    Rewriter().visit(ctx.tree)
