"""Plotting a function: its graph with the intercepts and turning points marked."""

from __future__ import annotations

import math

import sympy

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.worked import GraphFigure, Marker, Step, Worked, plain, tex

SEARCH_INTERVAL = sympy.Interval(-10, 10)
MAX_POINTS = 4  # nearest the origin: a periodic function has more, the graph shows them


def _points_in(expr: sympy.Expr, x: sympy.Symbol) -> list[sympy.Expr]:
    """Real solutions of expr = 0 in the search interval, nearest to 0 first (at most a few)."""
    try:
        found = sympy.solveset(expr, x, SEARCH_INTERVAL)
    except (NotImplementedError, ValueError, TypeError):
        return []
    if not isinstance(found, sympy.FiniteSet):
        return []
    values = [v for v in found if v.is_real and not v.has(sympy.RootOf) and sympy.count_ops(v) < 20]
    values.sort(key=lambda v: abs(float(v)))
    return sorted(values[:MAX_POINTS], key=float)


def solve_plot(request: Request) -> Worked:
    language = request.language
    function, x = request.expression, request.variable
    assert function is not None and x is not None
    f = plots.numeric(function, x)
    steps = [Step(say("function", language), f"f({tex(x)}) = {tex(function)}", f"f({x}) = {plain(function)}")]
    summary: list[str] = []
    markers: list[Marker] = []
    y_intercept = function.subs(x, 0)
    if y_intercept.is_finite and y_intercept.is_real:
        steps.append(Step(say("y_intercept", language), f"f(0) = {tex(y_intercept)}", f"(0, {plain(y_intercept)})"))
        summary.append(f"f(0) = {plain(y_intercept)}")
        markers.append(Marker(0.0, float(y_intercept), plots.coordinate_label(0.0, float(y_intercept)), "YELLOW"))
    zeros = _points_in(function, x)
    if zeros:
        steps.append(Step(say("x_intercepts", language), r",\quad ".join(f"{tex(x)} = {tex(z)}" for z in zeros),
                          ", ".join(f"{x} = {plain(z)}" for z in zeros)))
        summary.append(f"{say('zeros_word', language)}: " + ", ".join(f"{x} = {plain(z)}" for z in zeros))
        markers += [Marker(float(z), 0.0, plots.coordinate_label(float(z), 0.0), "RED") for z in zeros
                    if abs(float(z)) > 1e-9 or not markers]
    else:
        steps.append(Step(say("no_zeros", language)))
    derivative = sympy.diff(function, x)
    second = sympy.diff(derivative, x)
    extrema: list[tuple[sympy.Expr, sympy.Expr, str]] = []
    for critical in _points_in(derivative, x):
        curvature = second.subs(x, critical)
        if curvature.is_positive:
            extrema.append((critical, sympy.simplify(function.subs(x, critical)), "minimum"))
        elif curvature.is_negative:
            extrema.append((critical, sympy.simplify(function.subs(x, critical)), "maximum"))
    if extrema:
        described = [f"{say(kind, language)} ({plain(cx)}, {plain(cy)})" for cx, cy, kind in extrema]
        steps.append(Step(say("extrema", language),
                          rf"f'({tex(x)}) = {tex(derivative)} = 0",
                          "; ".join(described)))
        summary += described
        markers += [Marker(float(cx), float(cy), plots.coordinate_label(float(cx), float(cy)), "GREEN")
                    for cx, cy, _ in extrema if not any(abs(m.x - float(cx)) < 1e-9 and abs(m.y - float(cy)) < 1e-9
                                                      for m in markers)]
    focus_x = [m.x for m in markers] + [0.0]
    x_range = plots.x_window(focus_x)
    y_range = plots.y_window([f], x_range, [m.y for m in markers],
                             core=plots.core_interval([m.x for m in markers]))
    graph = plots.curve(function, x, x_range, y_range, "BLUE", f"f({tex(x)}) = {tex(function)}")
    if graph is None:
        raise UnsupportedProblem("The built-in solver cannot draw this function.")
    visible = tuple(m for m in markers if x_range[0] <= m.x <= x_range[1] and y_range[0] <= m.y <= y_range[1]
                    and math.isfinite(m.y))
    figure = GraphFigure(x_range, y_range, (graph,), visible, caption=say("graph", language))
    text = "; ".join(summary) if summary else f"f({x}) = {plain(function)}"
    return Worked("plot", say("title.plot", language), f"f({tex(x)}) = {tex(function)}", tuple(steps),
                  "", text, None, figure)

