"""Numbers for drawing functions: sampling, a window that shows what matters, curve segments.

All sampling happens here, in the appliance, with Python floats; the scene
only receives ranges, segments and a numpy expression to plot on segments
already known to be finite and inside the window (so a pole or a steep
branch never throws a curve off the screen or a NaN into Manim).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import sympy
from sympy.printing.numpy import NumPyPrinter

from appliance.generation.builtin.worked import Curve

SAMPLES = 400
X = sympy.Symbol("x")
_SAFE_NUMPY_CODE = re.compile(r"[\w.+\-*/() ]+")


def numeric(expr: sympy.Expr, variable: sympy.Symbol) -> Callable[[float], float]:
    """A float function of the variable that answers NaN wherever the expression is not real."""
    compiled = sympy.lambdify(variable, expr, modules="math")

    def evaluate(value: float) -> float:
        try:
            result = compiled(value)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return math.nan
        if isinstance(result, complex):
            return result.real if abs(result.imag) < 1e-12 else math.nan
        try:
            number = float(result)
        except (TypeError, ValueError, OverflowError):
            return math.nan
        return number if math.isfinite(number) else math.nan

    return evaluate


def numpy_code(expr: sympy.Expr, variable: sympy.Symbol) -> str | None:
    """The expression as numpy code in ``x`` for the scene's ``lambda x:``; None if not plain numpy."""
    code = str(NumPyPrinter().doprint(expr.subs(variable, X)))
    if not _SAFE_NUMPY_CODE.fullmatch(code) or "scipy" in code or "__" in code:
        return None
    names = set(re.findall(r"[A-Za-z_][\w.]*", code))
    if any(not (name == "x" or name == "abs" or name.startswith("numpy.")) for name in names):
        return None
    return code


def nice_step(span: float, target_ticks: int = 8) -> float:
    raw = max(span, 1e-9) / target_ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def nice_range(low: float, high: float, target_ticks: int = 8) -> tuple[float, float, float]:
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    step = nice_step(high - low, target_ticks)
    return (math.floor(low / step) * step, math.ceil(high / step) * step, step)


def x_window(focus: Sequence[float], default: tuple[float, float] = (-5.0, 5.0),
             minimum_span: float = 4.0) -> tuple[float, float, float]:
    """An x range showing every focus point with some room around it."""
    points = [p for p in focus if math.isfinite(p) and abs(p) < 1e4]
    if not points:
        return nice_range(*default)
    low, high = min(points), max(points)
    span = max(high - low, minimum_span)
    middle = (low + high) / 2
    low, high = middle - span * 0.75, middle + span * 0.75
    if 0 < low < span:
        low = -span * 0.1  # keep the y-axis in view when it is close
    if -span < high < 0:
        high = span * 0.1
    return nice_range(low, high)


def y_window(functions: Sequence[Callable[[float], float]], x_range: tuple[float, float, float],
             focus: Sequence[float] = (), core: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """A y range covering the functions on the x range (or on ``core`` only), ignoring spikes.

    ``core`` is the stretch of x that matters (a cubic's roots): sampling only there keeps
    the far branches, which the window clips anyway, from squashing what matters flat.
    """
    sampled = (core[0], core[1], 1.0) if core else x_range
    values: list[float] = []
    for function in functions:
        values += [v for v in _samples(function, sampled) if math.isfinite(v)]
    values += [v for v in focus if math.isfinite(v)]
    if not values:
        return nice_range(-5, 5)
    values.sort()
    # Quantiles cut off poles (1/x near 0) without cutting off a parabola's top.
    low = values[int(0.03 * (len(values) - 1))]
    high = values[int(0.97 * (len(values) - 1))]
    low = min([low, 0.0, *focus])
    high = max([high, 0.0, *focus])
    margin = (high - low) * 0.12 or 1.0
    return nice_range(low - margin, high + margin, 6)


def core_interval(points: Sequence[float]) -> tuple[float, float] | None:
    """The stretch around the interesting points, a seventh of their spread (at least 0.5)
    beyond them: the y range is taken from there, so a cubic's far branches, which grow fast,
    do not squash its roots and turning points into a crowd on the x-axis."""
    finite = [p for p in points if math.isfinite(p)]
    if len(finite) < 2:
        return None
    low, high = min(finite), max(finite)
    margin = max((high - low) * 0.15, 0.5)
    return (low - margin, high + margin)


def _samples(function: Callable[[float], float], x_range: tuple[float, float, float]) -> list[float]:
    low, high = x_range[0], x_range[1]
    return [function(low + (high - low) * i / SAMPLES) for i in range(SAMPLES + 1)]


def segments(function: Callable[[float], float], x_range: tuple[float, float, float],
             y_range: tuple[float, float, float]) -> tuple[tuple[float, float], ...]:
    """Stretches of x where the function is finite and inside the y range."""
    low, high = x_range[0], x_range[1]
    y_low, y_high = y_range[0], y_range[1]
    found: list[tuple[float, float]] = []
    start: float | None = None
    previous: float | None = None
    for i in range(SAMPLES + 1):
        x = low + (high - low) * i / SAMPLES
        y = function(x)
        inside = math.isfinite(y) and y_low <= y <= y_high
        if inside and start is None:
            start = x
        if not inside and start is not None and previous is not None:
            if previous - start > 1e-6:
                found.append((start, previous))
            start = None
        previous = x if inside else previous
    if start is not None and previous is not None and previous - start > 1e-6:
        found.append((start, previous))
    return tuple((round(a, 6), round(b, 6)) for a, b in found)


def curve(expr: sympy.Expr, variable: sympy.Symbol, x_range: tuple[float, float, float],
          y_range: tuple[float, float, float], color: str, label: str) -> Curve | None:
    code = numpy_code(expr, variable)
    if code is None:
        return None
    pieces = segments(numeric(expr, variable), x_range, y_range)
    if not pieces:
        return None
    return Curve(code=code, segments=pieces, color=color, label=label)


def real_points(values: Sequence[sympy.Expr]) -> list[float]:
    """Floats of the real, finite values among ``values``."""
    found = []
    for value in values:
        if value.is_real is False:
            continue
        try:
            number = complex(sympy.N(value))
        except (TypeError, ValueError):
            continue
        if abs(number.imag) < 1e-9 and math.isfinite(number.real):
            found.append(number.real)
    return found


def angle_axis(period: sympy.Expr) -> tuple[tuple[float, float, float], tuple[tuple[float, str], ...]]:
    """An x range over one and a half periods (-T/2 to T) with a tick every quarter period, and
    the ticks' labels named as angles (π/2, π, 3π/2; not 1.57, 3.14): what the steps speak of."""
    quarter = period / 4
    ticks = [k * quarter for k in range(-2, 5) if k != 0]
    labels = tuple((float(tick), sympy.latex(tick, fold_short_frac=True)) for tick in ticks)
    return (float(-2 * quarter), float(4 * quarter), float(quarter)), labels


def exact_coordinate_label(x: sympy.Expr, y: sympy.Expr) -> str:
    """(π/2, 1) as the steps write it; a decimal label would name a point the steps did not."""
    return rf"({sympy.latex(x, fold_short_frac=True)},\ {sympy.latex(y, fold_short_frac=True)})"


def coordinate_label(x: float, y: float) -> str:
    return rf"({_short(x)},\ {_short(y)})"


def _short(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")
