"""The built-in solver's reader: notations in, SymPy out, hostile text refused without evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import solve
from appliance.generation.builtin.parse import math_runs, normalise, parse_expression, parse_relation

x, y = sympy.symbols("x y")


def read(text: str) -> sympy.Expr:
    return parse_expression(normalise(text))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("x^2 - 5x + 6", x**2 - 5 * x + 6),
        ("x**3 + 2*x", x**3 + 2 * x),
        ("3(x+1)", 3 * x + 3),
        ("x(x-1)", x * (x - 1)),
        ("2x y", 2 * x * y),
        ("sin x + cos 2x", sympy.sin(x) + sympy.cos(2 * x)),
        ("sinx", sympy.sin(x)),
        ("e^x", sympy.exp(x)),
        ("ln(x)/x", sympy.log(x) / x),
        ("0.5x", x / 2),
        ("x² + x³", x**2 + x**3),
        ("√(x+1) + √2", sympy.sqrt(x + 1) + sympy.sqrt(2)),
        ("2π", 2 * sympy.pi),
        ("6 × 7 ÷ 3 − 1", sympy.Integer(13)),
        ("½ + ¾", sympy.Rational(5, 4)),
        ("|x - 1|", sympy.Abs(x - 1)),
        (r"\frac{x^2-1}{x-1}", (x**2 - 1) / (x - 1)),
        (r"\frac{1}{\frac{1}{2}}", sympy.Integer(2)),
        (r"\sqrt{x} + \sqrt[3]{8}", sympy.sqrt(x) + 2),
        (r"3 \cdot \left( x + 1 \right)", 3 * x + 3),
        (r"$\sin^2 x + \cos^2 x$", sympy.sin(x) ** 2 + sympy.cos(x) ** 2),
        (r"x^{10}", x**10),
        ("tg x", sympy.tan(x)),
    ],
)
def test_every_notation_reads_as_the_same_formula(written: str, expected: sympy.Expr) -> None:
    assert sympy.simplify(read(written) - expected) == 0


def test_decimal_comma_is_read_in_languages_that_use_it() -> None:
    assert parse_expression(normalise("2,5x", decimal_comma=True)) == sympy.Rational(5, 2) * x


def test_relations_keep_their_sides_and_signs() -> None:
    chain = parse_relation(normalise("1 < 2x + 1 ≤ 7"))
    assert chain.signs == ("<", "<=")
    assert chain.sides == (1, 2 * x + 1, 7)


def test_formulas_are_cut_out_of_sentences() -> None:
    assert math_runs(normalise("Solve 2x + 3 = 11 for x")) == ["2x + 3 = 11", "x"]
    # The Spanish "y" between two equations is the word "and", not a variable.
    assert math_runs(normalise("Resuelve 2x + y = 5 y x - y = 1")) == ["2x + y = 5", "x - y = 1"]
    assert math_runs(normalise("x+y=3; x-y=1")) == ["x+y=3", "x-y=1"]


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('touch /tmp/builtin-pwned')",
        "Solve x = __import__('os').system('touch /tmp/builtin-pwned')",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: open('/etc/passwd').read()",
        "exec('import os')",
        "eval(\"1+1\")",
        "x.__class__",
        "getattr(x, 'evalf')",
        "Solve import os = 1",
        r"\input{/etc/passwd}",
        r"\write18{touch /tmp/builtin-pwned}",
        "9^9^9^9^9",
        "Calculate 2^100000",
        "Expand (x+1)^100000",
        "Simplify " + "(" * 300 + "x" + ")" * 300,
        "Solve " + "x + " * 400 + "1 = 0",
        "a" * 10_000,
        "",
        "   ",
    ],
)
@pytest.mark.timeout(20)
def test_hostile_text_is_refused_and_never_evaluated(hostile: str) -> None:
    marker = Path("/tmp/builtin-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(UnsupportedProblem):
        solve(hostile)
    assert not marker.exists()


def test_the_refusal_says_what_went_wrong() -> None:
    with pytest.raises(UnsupportedProblem, match="LaTeX command"):
        solve(r"\input{/etc/passwd}")
    with pytest.raises(UnsupportedProblem, match="at most"):
        solve("x" * 5000)
