"""What a solver hands the scene templates: steps, the answer, and a figure.

Each kind's solver returns a ``Worked``: narrated steps (a sentence in the
problem's language plus the formula as LaTeX and as plain text), the answer,
the SymPy reference used to check a model's answer, and optionally a figure
(graph, number line, triangle or shape) described by plain numbers, so the
templates never evaluate anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from appliance.generation.builtin.reference import ReferenceAnswer


@dataclass(frozen=True)
class Step:
    say: str
    latex: str = ""
    plain: str = ""

    def as_text(self) -> str:
        return f"{self.say}: {self.plain}" if self.plain else self.say


@dataclass(frozen=True)
class Curve:
    """One plotted function: ``code`` is a numpy expression in ``x``, drawn on ``segments``."""

    code: str
    segments: tuple[tuple[float, float], ...]
    color: str
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str
    color: str = "YELLOW"
    hollow: bool = False


@dataclass(frozen=True)
class GraphFigure:
    x_range: tuple[float, float, float]
    y_range: tuple[float, float, float]
    curves: tuple[Curve, ...]
    markers: tuple[Marker, ...] = ()
    vertical_lines: tuple[tuple[float, str, str], ...] = ()  # (x, label, color)
    horizontal_lines: tuple[tuple[float, str], ...] = ()  # dashed guides: (y, colour)
    area: tuple[str, float, float] | None = None  # (numpy code, a, b) shaded under the curve
    caption: str = ""
    # x-axis labels written as formulas, (value, LaTeX): π/2, π, 3π/2 on a trigonometric graph,
    # where 1, 2, 3 would name no angle the steps speak of. Empty: the axis numbers its ticks.
    x_tick_labels: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class NumberLineFigure:
    x_range: tuple[float, float, float]
    pieces: tuple[tuple[float | None, float | None, bool, bool], ...]  # (low, high, low closed, high closed)
    points: tuple[float, ...] = ()  # isolated solutions
    labels: tuple[tuple[float, str], ...] = ()  # boundary values that are not ticks
    caption: str = ""


@dataclass(frozen=True)
class TriangleFigure:
    leg_a: float
    leg_b: float
    label_a: str
    label_b: str
    label_c: str
    unknown: str  # "a", "b" or "c"
    caption: str = ""


@dataclass(frozen=True)
class ShapeFigure:
    shape: str  # circle, rectangle, square, triangle
    width: float  # radius for a circle
    height: float
    labels: tuple[str, ...]
    caption: str = ""
    outline: bool = False  # a perimeter: the boundary traced, not the area filled


Figure = GraphFigure | NumberLineFigure | TriangleFigure | ShapeFigure


@dataclass(frozen=True)
class Worked:
    kind: str
    title: str
    problem_latex: str
    steps: tuple[Step, ...]
    answer_latex: str
    answer_text: str
    reference: ReferenceAnswer | None
    figure: Figure | None = None
    figure_first: bool = False  # geometry: the figure stays on the left while the steps run


# -- formatting ----------------------------------------------------------------------------------


# SymPy writes sin(x) as \sin{\left(x \right)}; a teacher writes \sin x when the argument is one symbol.
_SIMPLE_FUNCTION = re.compile(r"\\(sin|cos|tan|cot|sec|csc|ln|log)\{\\left\((\w) \\right\)\}")


def tex(expr: sympy.Basic) -> str:
    return _SIMPLE_FUNCTION.sub(r"\\\1 \2", str(sympy.latex(expr, ln_notation=True)))


def plain(expr: sympy.Basic) -> str:
    """Plain text a person reads (and ``answers_agree`` parses back): 2x^2 - √2, ln(x), π."""
    if isinstance(expr, sympy.Pow) and expr.exp.is_negative and expr.exp.is_Integer:
        return f"1/{plain(expr.base ** -expr.exp)}"  # 1/cos(x)^2, not cos(x)^(-2)
    text = sympy.sstr(expr)
    text = text.replace("**", "^")
    text = re.sub(r"\bsqrt\((\d+|[a-z])\)", r"√\1", text)
    text = re.sub(r"\bsqrt\(", "√(", text)
    text = re.sub(r"\blog\(", "ln(", text)
    text = re.sub(r"\bpi\b", "π", text)
    text = re.sub(r"\bE\b", "e", text)
    text = re.sub(r"\bexp\((\w+)\)", r"e^\1", text)
    text = re.sub(r"\bexp\(", "e^(", text)
    text = re.sub(r"\boo\b", "∞", text)
    text = text.replace("Abs(", "abs(")
    text = re.sub(r"(?<![\w.])(\d+)\*(?=[a-zπ√(])", r"\1", text)
    text = text.replace(")*(", ")(").replace("*", "·")
    return text


def approx(value: sympy.Basic, digits: int = 4) -> str:
    """A short decimal: 0.3333, 78.54, 2."""
    number = float(sympy.N(value, 15))
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.{digits}g}" if abs(number) >= 1 else f"{number:.{digits}f}"
    if "e" in text:
        text = f"{number:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def with_approximation(value: sympy.Basic) -> tuple[str, str]:
    """(plain, latex) of a number, with "≈ decimal" when it is not an integer."""
    if value.is_Integer or not value.is_real or not value.is_finite:
        return plain(value), tex(value)
    if value.is_Rational and value.q in (2, 4, 5, 8, 10, 20, 25, 50, 100):
        # 1/2 = 0.5 exactly: "≈" would be wrong.
        return f"{plain(value)} = {approx(value, 6)}", rf"{tex(value)} = {approx(value, 6)}"
    return f"{plain(value)} ≈ {approx(value)}", rf"{tex(value)} \approx {approx(value)}"
