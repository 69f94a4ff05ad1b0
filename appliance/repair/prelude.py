"""The compatibility prelude: Python the sandbox runs in the scene's namespace first.

The runner does ``namespace = {}; exec(COMPAT_PRELUDE, namespace); exec(code,
namespace)``. The static repairs rewrite what they can see in the code; the
prelude covers what only shows at run time:

* 2-D points computed by the scene (``np.array([x, y])`` in a variable, a list of
  vertices built in a loop) are padded to 3-D where they enter Manim;
* a zero-length ``wait``/``play`` and a ``play()`` with nothing to animate are
  skipped instead of aborting the render;
* removed names (``ShowCreation``, ``TextMobject``, ``GraphScene``, X11 colour
  names ...) exist, for code paths the static pass did not rewrite.

Scene code runs after it, so anything the scene defines itself wins. Every
helper name starts with ``_compat`` to stay out of the scene's way.
"""

from __future__ import annotations

from appliance.repair.layout_fixes import LAYOUT_FIXES_PRELUDE
from appliance.repair.renames import MISSING_COLORS

_PRELUDE_BODY = r'''
from manim import *
import functools as _compat_functools
import numpy as _compat_np


def _compat_as_3d(value):
    """A 2-D point (or an n x 2 array of points) with z = 0 added; anything else unchanged."""
    if value is None or isinstance(value, (Mobject, str, int, float)):
        return value
    try:
        array = _compat_np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return value
    if array.shape == (2,):
        return _compat_np.array([array[0], array[1], 0.0])
    if array.ndim == 2 and array.shape[1:] == (2,):
        return _compat_np.hstack([array, _compat_np.zeros((array.shape[0], 1))])
    return value


def _compat_pad_points(owner, method_name, positions=(), keywords=(), all_positional=False):
    original = owner.__dict__.get(method_name)
    if original is None:
        return

    @_compat_functools.wraps(original)
    def padded(self, *args, **kwargs):
        args = [
            _compat_as_3d(argument) if all_positional or index in positions else argument
            for index, argument in enumerate(args)
        ]
        for name in keywords:
            if name in kwargs:
                kwargs[name] = _compat_as_3d(kwargs[name])
        return original(self, *args, **kwargs)

    setattr(owner, method_name, padded)


_compat_pad_points(Mobject, "shift", all_positional=True)
_compat_pad_points(Mobject, "move_to", positions=(0,), keywords=("point_or_mobject", "aligned_edge"))
_compat_pad_points(Mobject, "next_to", positions=(0, 1), keywords=("mobject_or_point", "direction", "aligned_edge"))
_compat_pad_points(Mobject, "align_to", positions=(0, 1), keywords=("mobject_or_point", "direction"))
_compat_pad_points(Mobject, "put_start_and_end_on", positions=(0, 1), keywords=("start", "end"))
_compat_pad_points(Mobject, "rotate", keywords=("about_point", "axis"))
_compat_pad_points(Mobject, "scale", keywords=("about_point",))
_compat_pad_points(VMobject, "rotate", keywords=("about_point", "axis"))
_compat_pad_points(VMobject, "start_new_path", positions=(0,), keywords=("point",))
_compat_pad_points(VMobject, "add_line_to", positions=(0,), keywords=("point",))
_compat_pad_points(VMobject, "set_points_as_corners", positions=(0,), keywords=("points",))
_compat_pad_points(VMobject, "add_points_as_corners", positions=(0,), keywords=("points",))
_compat_pad_points(VMobject, "set_points_smoothly", positions=(0,), keywords=("points",))
_compat_pad_points(Line, "__init__", positions=(0, 1), keywords=("start", "end"))
_compat_pad_points(Line, "put_start_and_end_on", positions=(0, 1), keywords=("start", "end"))
_compat_pad_points(Arc, "__init__", keywords=("arc_center",))
_compat_pad_points(ArcBetweenPoints, "__init__", positions=(0, 1), keywords=("start", "end"))
_compat_pad_points(Polygram, "__init__", all_positional=True)
_compat_pad_points(CubicBezier, "__init__", all_positional=True)
_compat_pad_points(Dot, "__init__", positions=(0,), keywords=("point",))


_compat_original_wait = Scene.wait
_compat_original_play = Scene.play


@_compat_functools.wraps(_compat_original_wait)
def _compat_wait(self, duration=DEFAULT_WAIT_TIME, *args, **kwargs):
    # Manim refuses a wait of 0 s; computed durations reach 0 at the end of a loop.
    if duration is not None and duration <= 0:
        return None
    return _compat_original_wait(self, duration, *args, **kwargs)


@_compat_functools.wraps(_compat_original_play)
def _compat_play(self, *args, **kwargs):
    if not args:
        return None  # self.play(*[]) from an empty list: nothing to show
    run_time = kwargs.get("run_time")
    if run_time is not None and run_time <= 0:
        kwargs["run_time"] = 1 / config.frame_rate
    return _compat_original_play(self, *args, **kwargs)


Scene.wait = _compat_wait
Scene.play = _compat_play


# -- names Manim Community no longer has ----------------------------------------------------

ShowCreation = Create
TexMobject = MathTex
TexText = Tex
OldTex = MathTex
OldTexText = Tex
ParametricSurface = Surface
WiggleOutThenIn = Wiggle
get_norm = _compat_np.linalg.norm
FRAME_WIDTH = config.frame_width
FRAME_HEIGHT = config.frame_height
FRAME_X_RADIUS = config.frame_x_radius
FRAME_Y_RADIUS = config.frame_y_radius


def TextMobject(*strings, **kwargs):
    return Tex(*strings, **kwargs)


def FadeInFrom(mobject, direction=DOWN, **kwargs):
    return FadeIn(mobject, shift=-_compat_np.asarray(direction), **kwargs)


def FadeInFromDown(mobject, **kwargs):
    return FadeIn(mobject, shift=UP, **kwargs)


def FadeOutAndShift(mobject, direction=DOWN, **kwargs):
    return FadeOut(mobject, shift=direction, **kwargs)


def FadeOutAndShiftDown(mobject, **kwargs):
    return FadeOut(mobject, shift=DOWN, **kwargs)


def FadeInFromLarge(mobject, scale_factor=2, **kwargs):
    return FadeIn(mobject, scale=scale_factor, **kwargs)


def FadeInFromPoint(mobject, point, **kwargs):
    return FadeIn(mobject, target_position=point, **kwargs)


def CircleIndicate(mobject, **kwargs):
    return Circumscribe(mobject, shape=Circle, **kwargs)


def ShowCreationThenDestruction(mobject, **kwargs):
    kwargs.setdefault("time_width", 2.0)
    return ShowPassingFlash(mobject, **kwargs)


def ShowCreationThenFadeOut(mobject, **kwargs):
    return Succession(Create(mobject), FadeOut(mobject), **kwargs)


class GraphScene(Scene):
    """The old scene with built-in axes, on top of today's Axes."""

    x_min = -1
    x_max = 10
    x_axis_width = 9
    x_tick_frequency = 1
    x_axis_label = "x"
    y_min = -1
    y_max = 10
    y_axis_height = 6
    y_tick_frequency = 1
    y_axis_label = "y"
    axes_color = GREY
    graph_origin = 2.5 * DOWN + 4 * LEFT

    def _compat_axes(self):
        if getattr(self, "axes", None) is None:
            self.axes = Axes(
                x_range=[self.x_min, self.x_max, self.x_tick_frequency],
                y_range=[self.y_min, self.y_max, self.y_tick_frequency],
                x_length=self.x_axis_width,
                y_length=self.y_axis_height,
                axis_config={"color": self.axes_color},
            )
            self.axes.shift(_compat_as_3d(self.graph_origin) - self.axes.c2p(0, 0))
            self.x_axis, self.y_axis = self.axes.x_axis, self.axes.y_axis
        return self.axes

    def setup_axes(self, animate=False):
        axes = self._compat_axes()
        labels = axes.get_axis_labels(
            x_label=str(self.x_axis_label or "").replace("$", ""),
            y_label=str(self.y_axis_label or "").replace("$", ""),
        )
        if animate:
            self.play(Create(axes), Write(labels))
        else:
            self.add(axes, labels)

    def get_graph(self, func, color=None, x_min=None, x_max=None, **kwargs):
        x_range = [self.x_min if x_min is None else x_min, self.x_max if x_max is None else x_max]
        if color is not None:
            kwargs["color"] = color
        return self._compat_axes().plot(func, x_range=x_range, **kwargs)

    def coords_to_point(self, x, y):
        return self._compat_axes().c2p(x, y)

    def point_to_coords(self, point):
        return self._compat_axes().p2c(point)

    def input_to_graph_point(self, x, graph):
        return self._compat_axes().input_to_graph_point(x, graph)

    def get_graph_label(self, graph, label="f(x)", **kwargs):
        return self._compat_axes().get_graph_label(graph, label, **kwargs)

    def get_vertical_line_to_graph(self, x, graph, line_class=None, **kwargs):
        axes = self._compat_axes()
        return axes.get_vertical_line(axes.i2gp(x, graph), **kwargs)

    def get_area(self, graph, t_min=None, t_max=None, **kwargs):
        x_range = None if t_min is None or t_max is None else [t_min, t_max]
        return self._compat_axes().get_area(graph, x_range=x_range, **kwargs)

    def get_riemann_rectangles(self, graph, x_min=None, x_max=None, dx=0.1, **kwargs):
        x_range = [self.x_min if x_min is None else x_min, self.x_max if x_max is None else x_max]
        return self._compat_axes().get_riemann_rectangles(graph, x_range=x_range, dx=dx, **kwargs)
'''


def _colour_definitions() -> str:
    lines = ["", "# -- colour names Manim never had (X11/CSS), as their hex values --"]
    lines += [f'{name} = ManimColor("{value}")' for name, value in sorted(MISSING_COLORS.items())]
    return "\n".join(lines) + "\n"


PRELUDE_WITHOUT_LAYOUT_FIXES: str = _PRELUDE_BODY.lstrip("\n") + _colour_definitions()
"""The prelude without the mechanical layout fixes (for measuring what they change)."""

COMPAT_PRELUDE: str = PRELUDE_WITHOUT_LAYOUT_FIXES + LAYOUT_FIXES_PRELUDE
"""Python source the sandbox executes in the scene's namespace before the scene code."""
