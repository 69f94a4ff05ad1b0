"""Plotting a function: its graph with the intercepts and turning points marked.

The steps compute what the graph shows: where it crosses the y-axis (f(0) with
0 put in), where it crosses the x-axis (f(x) = 0, factored when it can be),
and its turning points: the vertex at x = -b/2a for a parabola, f'(x) = 0
for anything else. A periodic function (sin, cos, tan) is studied over one period and its
points given as families (x = πk), as a teacher does, on an axis marked in angles.
"""

from __future__ import annotations

import itertools
import math

import sympy
from sympy import S

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.equations import (
    factored_latex,
    family_members,
    ordered_factors,
    solution_families,
    substituted,
    wrapped,
)
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


def _never_zero(expr: sympy.Expr, x: sympy.Symbol) -> bool:
    try:
        return bool(sympy.solveset(expr, x, S.Reals) == S.EmptySet)
    except (NotImplementedError, ValueError, TypeError):
        return False


def _shown_value(function: sympy.Expr, x: sympy.Symbol, at: sympy.Expr) -> tuple[str, str, sympy.Expr]:
    """f(at) written out with the value put in, and worked out: "0^2 - 4·0 + 3 = 3"."""
    value = sympy.simplify(function.subs(x, at))
    latex, text = substituted(function, {x: at})
    if latex == tex(value):
        return tex(value), plain(value), value
    return f"{latex} = {tex(value)}", f"{text} = {plain(value)}", value


def solve_plot(request: Request) -> Worked:
    language = request.language
    function, x = request.expression, request.variable
    assert function is not None and x is not None
    period = _trigonometric_period(function, x)
    if period is not None:
        periodic = _solve_periodic_plot(function, x, period, language)
        if periodic is not None:
            return periodic
    f = plots.numeric(function, x)
    x_tex = tex(x)
    steps: list[Step] = []
    summary: list[str] = []
    answer: list[str] = []
    markers: list[Marker] = []
    y_intercept = function.subs(x, 0)
    if y_intercept.is_finite and y_intercept.is_real:
        shown, shown_plain, _ = _shown_value(function, x, S.Zero)
        steps.append(Step(say("y_intercept", language, var=x.name), f"f(0) = {shown}", f"f(0) = {shown_plain}"))
        summary.append(f"f(0) = {plain(y_intercept)}")
        answer.append(f"f(0) = {tex(y_intercept)}")
        markers.append(Marker(0.0, float(y_intercept), plots.coordinate_label(0.0, float(y_intercept)), "YELLOW"))
    zeros = _points_in(function, x)
    polynomial = function.is_polynomial(x)
    degree = sympy.degree(function, x) if polynomial and function.has(x) else 0
    if zeros:
        listed = r",\ ".join(f"{x_tex} = {tex(z)}" for z in zeros)
        equation = f"{tex(function)} = 0"
        if polynomial and degree == 2:
            coefficient, factors = ordered_factors(function, x)
            if len(factors) > 1 or any(m > 1 for _, m in factors):
                equation = f"{tex(function)} = {factored_latex(coefficient, factors)[0]} = 0"
        elif polynomial and degree > 2 and sympy.factor(function) != function:
            equation = f"{tex(function)} = {tex(sympy.factor(function))} = 0"
        steps.append(Step(say("x_intercepts", language), rf"{equation}\ \Rightarrow\ {listed}",
                          ", ".join(f"{x} = {plain(z)}" for z in zeros)))
        summary.append(f"{say('zeros_word', language)}: " + ", ".join(f"{x} = {plain(z)}" for z in zeros))
        answer.append(" = ".join(f"f({tex(z)})" for z in zeros) + " = 0")
        markers += [Marker(float(z), 0.0, plots.coordinate_label(float(z), 0.0), "RED") for z in zeros
                    if abs(float(z)) > 1e-9 or not markers]
    elif _never_zero(function, x):
        steps.append(Step(say("no_zeros", language), rf"{tex(function)} \neq 0", f"{plain(function)} ≠ 0"))
    derivative = sympy.diff(function, x)
    second = sympy.diff(derivative, x)
    extrema: list[tuple[sympy.Expr, sympy.Expr, str]] = []
    for critical in _points_in(derivative, x):
        curvature = second.subs(x, critical)
        if curvature.is_positive:
            extrema.append((critical, sympy.simplify(function.subs(x, critical)), "minimum"))
        elif curvature.is_negative:
            extrema.append((critical, sympy.simplify(function.subs(x, critical)), "maximum"))
    if polynomial and degree == 2:
        steps += _vertex_steps(function, x, language)
    elif extrema:
        points = r",\ ".join(f"{x_tex} = {tex(cx)}" for cx, _, _ in extrema)
        steps.append(Step(say("extrema", language), rf"f'({x_tex}) = {tex(derivative)} = 0\ \Rightarrow\ {points}",
                          f"f'({x}) = {plain(derivative)} = 0"))
        values = r",\quad ".join(rf"f({tex(cx)}) = {tex(cy)}\ (\{'min' if kind == 'minimum' else 'max'})"
                                 for cx, cy, kind in extrema)
        steps.append(Step(say("extrema_values", language), values,
                          "; ".join(f"{say(kind, language)} ({plain(cx)}, {plain(cy)})" for cx, cy, kind in extrema)))
    if extrema:
        summary += [f"{say(kind, language)} ({plain(cx)}, {plain(cy)})" for cx, cy, kind in extrema]
        answer += [rf"f_{{\{'min' if kind == 'minimum' else 'max'}}} = f({tex(cx)}) = {tex(cy)}"
                   for cx, cy, kind in extrema]
        markers += [Marker(float(cx), float(cy), plots.coordinate_label(float(cx), float(cy)), "GREEN")
                    for cx, cy, _ in extrema if not any(abs(m.x - float(cx)) < 1e-9 and abs(m.y - float(cy)) < 1e-9
                                                      for m in markers)]
    focus_x = [m.x for m in markers] + [0.0]
    x_range = plots.x_window(focus_x)
    y_range = plots.y_window([f], x_range, [m.y for m in markers],
                             core=plots.core_interval([m.x for m in markers]))
    graph = plots.curve(function, x, x_range, y_range, "BLUE", f"f({x_tex}) = {tex(function)}")
    if graph is None:
        raise UnsupportedProblem("The built-in solver cannot draw this function.")
    visible = tuple(m for m in markers if x_range[0] <= m.x <= x_range[1] and y_range[0] <= m.y <= y_range[1]
                    and math.isfinite(m.y))
    figure = GraphFigure(x_range, y_range, (graph,), visible, caption=say("graph", language))
    text = "; ".join(summary) if summary else f"f({x}) = {plain(function)}"
    latex = r" \\ ".join(answer) if answer else f"f({x_tex}) = {tex(function)}"
    return Worked("plot", say("title.plot", language), f"f({x_tex}) = {tex(function)}", tuple(steps),
                  latex, text, None, figure)


def _vertex_steps(function: sympy.Expr, x: sympy.Symbol, language: str) -> list[Step]:
    """A parabola's vertex: x = -b/2a, then its height f(x), a minimum when a > 0."""
    a, b, _ = sympy.Poly(function, x).all_coeffs()
    vertex = -b / (2 * a)
    shown, shown_plain, height = _shown_value(function, x, vertex)
    return [
        Step(say("vertex_x", language),
             rf"{tex(x)}_v = -\frac{{b}}{{2a}} = -\frac{{{tex(b)}}}{{2 \cdot {wrapped(a)}}} = {tex(vertex)}",
             f"{x} = -b/(2a) = {plain(vertex)}"),
        Step(say("vertex_min" if a > 0 else "vertex_max", language),
             f"y_v = f({tex(vertex)}) = {shown}", f"y = f({plain(vertex)}) = {shown_plain}"),
    ] if height.is_finite else []


# -- periodic functions ---------------------------------------------------------------------------

_TRIGONOMETRIC = (sympy.sin, sympy.cos, sympy.tan)
INTEGERS = r",\quad k \in \mathbb{Z}"


def _trigonometric_period(function: sympy.Expr, x: sympy.Symbol) -> sympy.Expr | None:
    """The period of a function built from sin, cos and tan of x (a rational multiple of π), or None."""
    if not function.has(*_TRIGONOMETRIC) or function.is_polynomial(x):
        return None
    if any(not isinstance(f, _TRIGONOMETRIC) for f in function.atoms(sympy.Function)):
        return None
    try:
        period = sympy.periodicity(function, x)
    except (NotImplementedError, ValueError, TypeError):
        return None
    if period is None or not period.is_positive or not (period / sympy.pi).is_rational:
        return None
    # SymPy gives 2π for sin²x, whose period is π: halve while the function still repeats.
    while sympy.simplify(function.subs(x, x + period / 2) - function) == 0:
        period = period / 2
    return sympy.nsimplify(period)


def _one_period(expr: sympy.Expr, x: sympy.Symbol, period: sympy.Expr) -> list[sympy.Expr] | None:
    """Where expr = 0 in one period, -T/2 <= x < T/2, in order; None when SymPy cannot say."""
    try:
        found = sympy.solveset(expr, x, sympy.Interval.Ropen(-period / 2, period / 2))
    except (NotImplementedError, ValueError, TypeError):
        return None
    if found == S.EmptySet:
        return []
    if not isinstance(found, sympy.FiniteSet) or len(found) > 8:
        return None
    points = [sympy.nsimplify(v) for v in found]
    # Angles from the table only (π/6, 3π/4): arcsin(1/3) + 2πk is for another lesson.
    if any(not v.is_real or not (v / sympy.pi).is_rational for v in points):
        return None
    return sorted(points, key=float)


def _nearest_zero(points: list[sympy.Expr]) -> sympy.Expr:
    """The representative a teacher writes: the one closest to 0, the positive one on a tie."""
    return min(points, key=lambda v: (abs(float(v)), float(v) < 0))


def _written(point: sympy.Expr, step: sympy.Expr) -> sympy.Expr:
    """The member of point + step·k a teacher starts a family with: π/2 + πk, not -π/2 + πk."""
    return _nearest_zero([sympy.nsimplify(point + k * step) for k in (-1, 0, 1)])


def _joined(points: list[sympy.Expr], period: sympy.Expr) -> tuple[list[sympy.Expr], sympy.Expr]:
    """Points evenly spread over a period as one family: sin x = 0 at -π and 0 is x = πk."""
    count = len(points)
    if count > 1:
        spacing = period / count
        gaps = [b - a for a, b in itertools.pairwise(points)] + [points[0] + period - points[-1]]
        if all(sympy.simplify(gap - spacing) == 0 for gap in gaps):
            return [_nearest_zero(points)], spacing
    return sorted((_written(point, period) for point in points), key=float), period


def _in_first_period(points: list[sympy.Expr], step: sympy.Expr, period: sympy.Expr) -> list[sympy.Expr]:
    """Each family's members with 0 <= x < T: the points the graph marks and labels."""
    members = []
    for point in points:
        k = math.ceil(-float(point / step) - 1e-9)
        while float(point + k * step) < float(period) - 1e-9:
            members.append(sympy.nsimplify(point + k * step))
            k += 1
    return members


def _solve_periodic_plot(function: sympy.Expr, x: sympy.Symbol, period: sympy.Expr,
                         language: str) -> Worked | None:
    zeros = _one_period(function, x, period)
    derivative = sympy.diff(function, x)
    critical = _one_period(derivative, x, period)
    if zeros is None or critical is None:
        return None
    x_tex, k_words = tex(x), say("k_integer", language)
    steps = [Step(say("plot_period", language, period=plain(period)),
                  rf"f({x_tex} + {tex(period)}) = f({x_tex})", f"f({x} + {plain(period)}) = f({x})")]
    summary = [f"{say('period_word', language)} {plain(period)}"]
    answer = [f"T = {tex(period)}"]
    markers: list[Marker] = []
    y_intercept = sympy.simplify(function.subs(x, 0))
    if y_intercept.is_finite and y_intercept.is_real:
        shown, shown_plain, _ = _shown_value(function, x, S.Zero)
        steps.append(Step(say("y_intercept", language, var=x.name), f"f(0) = {shown}", f"f(0) = {shown_plain}"))
        summary.append(f"f(0) = {plain(y_intercept)}")
        answer[0] += rf",\quad f(0) = {tex(y_intercept)}"  # three lines in the box, not five: readable on a phone
        markers.append(Marker(0.0, float(y_intercept), plots.exact_coordinate_label(S.Zero, y_intercept), "YELLOW"))
    if zeros:
        family, step = _joined(zeros, period)
        family_latex, family_plain = solution_families(x, family, step, "")
        steps.append(Step(say("x_intercepts", language), rf"{tex(function)} = 0\ \Rightarrow\ {family_latex}{INTEGERS}",
                          family_plain))
        summary.append(f"{say('zeros_word', language)}: {family_plain}")
        answer.append(rf"f({x_tex}) = 0\ \Leftrightarrow\ {family_latex}")
        markers += [Marker(float(z), 0.0, plots.exact_coordinate_label(z, S.Zero), "RED")
                    for z in _in_first_period(family, step, period) if abs(float(z)) > 1e-9 or not markers]
    elif _never_zero(function, x):
        steps.append(Step(say("no_zeros", language), rf"{tex(function)} \neq 0", f"{plain(function)} ≠ 0"))
    second = sympy.diff(derivative, x)
    extrema = []
    for point in critical:
        curvature = second.subs(x, point)
        kind = "minimum" if curvature.is_positive else "maximum" if curvature.is_negative else None
        if kind is not None:
            extrema.append((point, sympy.simplify(function.subs(x, point)), kind))
    if extrema:
        family, step = _joined(critical, period)
        family_latex, family_plain = solution_families(x, family, step, "")
        steps.append(Step(say("extrema", language),
                          rf"f'({x_tex}) = {tex(derivative)} = 0\ \Rightarrow\ {family_latex}{INTEGERS}",
                          f"f'({x}) = {plain(derivative)} = 0"))
        lines, said = [], []
        for point, value, kind in extrema:
            [(at_latex, at_plain)] = family_members([_written(point, period)], period, "")
            short = "min" if kind == "minimum" else "max"
            lines.append(rf"f_{{\{short}}} = f\left({at_latex}\right) = {tex(value)}")
            said.append(f"{say(kind, language)} ({at_plain}, {plain(value)})")
            markers += [Marker(float(m), float(value), plots.exact_coordinate_label(m, value), "GREEN")
                        for m in _in_first_period([point], period, period)
                        if not any(abs(old.x - float(m)) < 1e-9 for old in markers)]  # a zero that is a minimum
        steps.append(Step(say("extrema_values", language), r",\quad ".join(lines), "; ".join(said)))
        summary += said
        answer.append(r",\quad ".join(lines))
    x_range, tick_labels = plots.angle_axis(period)
    f = plots.numeric(function, x)
    if function.has(sympy.tan):  # the branches rise without bound: show a few units around the points
        heights = [m.y for m in markers] or [0.0]
        y_range = plots.nice_range(min(heights) - 4, max(heights) + 4)
    else:
        y_range = plots.y_window([f], x_range, [m.y for m in markers])
    graph = plots.curve(function, x, x_range, y_range, "BLUE", f"f({x_tex}) = {tex(function)}")
    if graph is None:
        return None
    figure = GraphFigure(x_range, y_range, (graph,), tuple(markers), caption=say("graph", language),
                         x_tick_labels=tick_labels)
    text = "; ".join(summary) + f" ({k_words})"
    return Worked("plot", say("title.plot", language), f"f({x_tex}) = {tex(function)}", tuple(steps),
                  r" \\ ".join(answer), text, None, figure)
