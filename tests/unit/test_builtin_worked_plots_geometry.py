"""Worked steps for graphs, geometry, algebra and arithmetic, read the way a mathematics teacher reads them."""

from __future__ import annotations

import pytest

from appliance.generation.builtin.solve import work
from appliance.generation.builtin.worked import GraphFigure, Worked


def worked(problem: str, language: str | None = None) -> Worked:
    result, _ = work(problem, language)
    return result


def test_a_parabola_finds_its_vertex_by_minus_b_over_2a_and_its_intercepts() -> None:
    result = worked("Plot y = x^2 - 4x + 3")
    lines = [step.latex for step in result.steps]
    assert lines == [
        r"f(0) = 0^{2} - 4 \cdot 0 + 3 = 3",
        r"x^{2} - 4 x + 3 = \left(x - 1\right) \left(x - 3\right) = 0\ \Rightarrow\ x = 1,\ x = 3",
        r"x_v = -\frac{b}{2a} = -\frac{-4}{2 \cdot 1} = 2",
        r"y_v = f(2) = 2^{2} - 4 \cdot 2 + 3 = -1",
    ]
    assert "minimum" in result.steps[-1].say
    # The function is the problem line; no step writes it again.
    assert all(line != result.problem_latex for line in lines)
    assert result.answer_latex == r"f(0) = 3 \\ f(1) = f(3) = 0 \\ f_{\min} = f(2) = -1"
    assert result.answer_text == "f(0) = 3; zeros: x = 1, x = 3; minimum (2, -1)"


def test_other_functions_find_turning_points_where_the_derivative_is_zero() -> None:
    result = worked("Plot y = x^3 - 3x")
    lines = [step.latex for step in result.steps]
    assert r"f'(x) = 3 x^{2} - 3 = 0\ \Rightarrow\ x = -1,\ x = 1" in lines
    assert r"f(-1) = 2\ (\max),\quad f(1) = -2\ (\min)" in lines


def test_a_periodic_function_is_studied_over_one_period_and_its_points_given_as_families() -> None:
    # Before: "zeros: x = -2π, x = -π, x = 0, x = π" (the four nearest 0, while the graph showed
    # ±3π and 2π too), extrema as single points, and markers labelled (-6.28, 0).
    result = worked("Plot y = sin(x)")
    assert [step.latex for step in result.steps] == [
        r"f(x + 2 \pi) = f(x)",
        r"f(0) = \sin 0 = 0",
        r"\sin x = 0\ \Rightarrow\ x = \pi k,\quad k \in \mathbb{Z}",
        r"f'(x) = \cos x = 0\ \Rightarrow\ x = \frac{\pi}{2} + \pi k,\quad k \in \mathbb{Z}",
        r"f_{\min} = f\left(- \frac{\pi}{2} + 2 \pi k\right) = -1,\quad "
        r"f_{\max} = f\left(\frac{\pi}{2} + 2 \pi k\right) = 1",
    ]
    assert "repeats every 2π" in result.steps[0].say
    assert result.answer_text == ("period 2π; f(0) = 0; zeros: x = πk; minimum (-π/2 + 2πk, -1); "
                                  "maximum (π/2 + 2πk, 1) (k any integer)")
    # Three lines in the answer box (five were shrunk too small to read on a phone).
    assert result.answer_latex.split(r" \\ ") == [
        r"T = 2 \pi,\quad f(0) = 0",
        r"f(x) = 0\ \Leftrightarrow\ x = \pi k",
        r"f_{\min} = f\left(- \frac{\pi}{2} + 2 \pi k\right) = -1,\quad "
        r"f_{\max} = f\left(\frac{\pi}{2} + 2 \pi k\right) = 1",
    ]
    figure = result.figure
    assert isinstance(figure, GraphFigure)
    # One period's points, labelled as the steps write them, on an axis marked in angles.
    assert sorted(marker.label for marker in figure.markers) == [
        r"(0,\ 0)", r"(3 \pi / 2,\ -1)", r"(\pi / 2,\ 1)", r"(\pi,\ 0)"]
    assert [label for _, label in figure.x_tick_labels] == [
        r"- \pi", r"- \pi / 2", r"\pi / 2", r"\pi", r"3 \pi / 2", r"2 \pi"]


@pytest.mark.parametrize(("problem", "language", "answer"), [
    # SymPy calls 2π the period of sin²x; it is π, and its maxima are π/2 + πk, not -π/2 + πk.
    ("Plot y = sin(x)^2", "en", "period π; f(0) = 0; zeros: x = πk; maximum (π/2 + πk, 1); minimum (πk, 0) "
                                "(k any integer)"),
    ("Построй график y = cos(2x)", "ru", "период π; f(0) = 1; нули: x = π/4 + πk/2; минимум (π/2 + πk, -1); "
                                         "максимум (πk, 1) (k целое число)"),
    ("Grafica y = tan(x)", "es", "periodo π; f(0) = 0; ceros: x = πk (k entero)"),
])
def test_periodic_plots_in_other_forms_and_languages(problem: str, language: str, answer: str) -> None:
    result, chosen = work(problem)
    assert (chosen, result.kind, result.answer_text) == (language, "plot", answer)


def test_a_periodic_function_off_the_angle_table_keeps_the_plain_plot() -> None:
    # arcsin(1/3) + 2πk is not what a plot of 3 sin x - 1 is for: the window's points, as before.
    result = worked("Plot y = 3sin(x) - 1")
    assert not result.answer_text.startswith("period")
    assert result.figure is not None and not getattr(result.figure, "x_tick_labels", ())


def test_the_pythagorean_theorem_substitutes_with_units() -> None:
    result = worked("A right triangle has legs 5 cm and 12 cm. How long is the hypotenuse?")
    lines = [step.latex for step in result.steps]
    assert lines == [
        "a^2 + b^2 = c^2",
        r"c^2 = \left(5\,\text{cm}\right)^2 + \left(12\,\text{cm}\right)^2 = 25 + 144 = 169\ \text{cm}^2",
        r"c = \sqrt{169\ \text{cm}^2} = 13\ \text{cm}",
    ]
    given = worked("La hipotenusa mide 13 y un cateto 5. Halla el otro cateto.")
    assert [step.latex for step in given.steps][1] == "b^2 = c^2 - a^2"


def test_an_area_is_formula_then_substitution_with_units_then_the_result() -> None:
    result = worked("What is the area of a circle with radius 5 cm?")
    assert [step.latex for step in result.steps] == [
        r"A = \pi r^2",
        r"A = \pi \cdot \left(5\,\text{cm}\right)^2 = 25 \pi\ \text{cm}^2",
        r"A = 25 \pi \approx 78.54\ \text{cm}^2",
    ]


def test_factoring_a_trinomial_shows_the_two_numbers_and_for_a_not_one_the_grouping() -> None:
    simple = worked("Factor x^2 - 5x + 6")
    assert "product 6 and sum -5" in simple.steps[0].say
    assert simple.steps[-1].latex == simple.answer_latex
    grouped = [step.latex for step in worked("Factor 2x^2 + 3x - 2").steps]
    assert grouped == [
        r"4 \cdot \left(-1\right) = -4,\quad 4 + \left(-1\right) = 3",
        r"2 x^{2} + 3 x - 2 = 2 x^{2} + 4 x - x - 2",
        r"2 x^{2} + 3 x - 2 = 2 x \left(x + 2\right) - \left(x + 2\right)",
        r"2 x^{2} + 3 x - 2 = \left(x + 2\right) \left(2 x - 1\right)",
    ]


def test_identities_are_shown_with_the_expressions_own_terms() -> None:
    squares = worked("Factoriza x^2 - 9").steps[0].latex
    assert squares == r"x^{2} - 9 = x^{2} - 3^{2} = \left(x - 3\right) \left(x + 3\right)"
    lines = [step.latex for step in worked("Expande (2x - 1)^2").steps]
    assert lines[1] == r"\left(2 x - 1\right)^{2} = \left(2 x\right)^{2} - 2 \cdot 2 x \cdot 1 + 1^{2}"


def test_arithmetic_lines_are_whole_equations() -> None:
    steps = worked("Compute (3 + 4) * 5 - 6 / 2").steps
    assert [step.latex for step in steps] == [
        r"\left(3 + 4\right) \cdot 5 - \frac{6}{2} = 7 \cdot 5 - 3",
        r"\left(3 + 4\right) \cdot 5 - \frac{6}{2} = 35 - 3",
        r"\left(3 + 4\right) \cdot 5 - \frac{6}{2} = 32",
    ]
