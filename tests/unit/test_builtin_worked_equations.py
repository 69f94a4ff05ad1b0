"""Worked steps for equations, systems and inequalities, read the way a mathematics teacher reads them."""

from __future__ import annotations

import math
import re

import pytest
import sympy

from appliance.generation.builtin.solve import work
from appliance.generation.builtin.worked import GraphFigure, Step, Worked


def worked(problem: str, language: str | None = None) -> Worked:
    result, _ = work(problem, language)
    return result


def index_of(steps: tuple[Step, ...], fragment: str, start: int = 0) -> int:
    """The first step at or after ``start`` whose LaTeX contains ``fragment``."""
    for index in range(start, len(steps)):
        if fragment in steps[index].latex:
            return index
    raise AssertionError(f"no step shows {fragment!r}: {[step.latex for step in steps]}")


# -- linear equations ---------------------------------------------------------------------------


def test_a_linear_equation_shows_each_operation_on_both_sides_then_its_result_then_a_check() -> None:
    steps = worked("Solve 2x + 3 = 11").steps
    subtract = index_of(steps, "2 x + 3 - 3 = 11 - 3")
    assert "Subtract 3 from both sides" in steps[subtract].say
    result = index_of(steps, "2 x = 8", subtract + 1)
    assert result == subtract + 1
    divide = index_of(steps, r"\frac{2 x}{2} = \frac{8}{2}", result + 1)
    assert "Divide both sides by 2" in steps[divide].say
    solved = index_of(steps, "x = 4", divide + 1)
    assert steps[solved].latex == "x = 4"
    check = steps[-1]
    assert check.say.startswith("Check")
    assert check.latex == r"2 \cdot 4 + 3 = 11\ \checkmark"
    assert solved == len(steps) - 2


def test_x_on_both_sides_is_moved_first_and_the_check_works_out_both_sides() -> None:
    steps = worked("What is x if 5x - 7 = 3x + 1?").steps
    move = index_of(steps, "5 x - 7 - 3 x = 3 x + 1 - 3 x")
    assert "Subtract 3 x from both sides" in steps[move].say
    add = index_of(steps, "2 x - 7 + 7 = 1 + 7", move)
    assert "Add 7 to both sides" in steps[add].say
    index_of(steps, "2 x = 8", add)
    assert steps[-1].latex == r"5 \cdot 4 - 7 = 13,\quad 3 \cdot 4 + 1 = 13\ \checkmark"


def test_a_fraction_of_x_is_undone_by_multiplying() -> None:
    steps = worked("Résous l'équation x/2 + 1 = 4").steps
    multiply = index_of(steps, r"2 \cdot \frac{x}{2} = 2 \cdot 3")
    assert "Multiplions les deux membres par 2" in steps[multiply].say
    assert steps[multiply + 1].latex == "x = 6"


def test_brackets_are_expanded_before_anything_moves() -> None:
    steps = worked("Löse 3(x+1) = 2x - 5").steps
    assert steps[0].latex == "3 x + 3 = 2 x - 5"
    assert steps[0].say == "Wir multiplizieren beide Seiten aus"
    assert worked("Löse 3(x+1) = 2x - 5").answer_text == "x = -8"


def test_x_only_on_the_right_swaps_the_sides() -> None:
    steps = worked("Solve 11 = 2x + 3").steps
    assert steps[0].latex == "2 x + 3 = 11"
    assert "Swap" in steps[0].say


# -- quadratics -------------------------------------------------------------------------------------


def _listed(latex: str) -> list[str]:
    """The numbers in "x - 2 = 0,\\quad x - 3 = 0" or "x_{1} = 2,\\quad x_{2} = 3", in order."""
    return re.findall(r"(-?\d+)(?: = 0)?(?:,|$)", latex.replace(r"\quad", ""))


def test_factoring_names_the_two_numbers_and_keeps_the_roots_in_the_order_of_the_factors() -> None:
    result = worked("Solve x^2 - 5x + 6 = 0")
    steps = result.steps
    numbers = steps[index_of(steps, r"\left(-2\right) \cdot \left(-3\right) = 6")]
    assert "product 6 and sum -5" in numbers.say
    assert "They are -2 and -3" in numbers.say
    factored = index_of(steps, r"\left(x - 2\right) \left(x - 3\right) = 0")
    zero = steps[index_of(steps, r"x - 2 = 0,\quad x - 3 = 0", factored)]
    roots = steps[index_of(steps, r"x_{1} = 2,\quad x_{2} = 3", factored)]
    assert zero.say.startswith("A product is zero")
    assert roots.plain == result.answer_text == "x = 2, x = 3"
    assert steps[-1].say.startswith("Check")
    assert r"2^{2} - 5 \cdot 2 + 6 = 0" in steps[-1].latex and r"3^{2} - 5 \cdot 3 + 6 = 0" in steps[-1].latex


@pytest.mark.parametrize("problem", ["Solve x^2 - 5x + 6 = 0", "Solve x^2 + x - 6 = 0", "Löse x(x-1) = 6",
                                     "Solve x^2 + 3x = 0", "Solve x^3 - 6x^2 + 11x - 6 = 0", "Solve x^3 - x = 0"])
def test_factors_the_equations_they_give_and_the_roots_run_in_one_order(problem: str) -> None:
    result = worked(problem, "en")
    zero = next(step for step in result.steps if step.say.startswith("A product is zero"))
    factors = [part.strip() for part in zero.latex.split(r",\quad")]
    roots = [int(value) for value in re.findall(r"x = (-?\d+)", result.answer_text)]
    assert roots == sorted(roots)
    # Each factor, in the order shown, vanishes at the root in the same position.
    for factor, root in zip(factors, roots, strict=True):
        expression = re.sub(r"(\d)\s*x", r"\1*x", factor.removesuffix("= 0"))
        assert sympy.sympify(expression).subs(sympy.Symbol("x"), root) == 0, (factor, root)


def test_the_quadratic_formula_substitutes_a_b_c_and_the_discriminant() -> None:
    steps = worked("x² − 2x − 1 = 0, solve").steps
    index_of(steps, r"a = 1,\quad b = -2,\quad c = -1")
    index_of(steps, r"D = b^2 - 4ac = \left(-2\right)^2 - 4 \cdot 1 \cdot \left(-1\right) = 8")
    formula = steps[index_of(steps, r"\frac{-b \pm \sqrt{D}}{2a} = \frac{2 \pm \sqrt{8}}{2}")]
    assert "two roots" in formula.say
    index_of(steps, r"x_{1} = \frac{2 - 2 \sqrt{2}}{2} = 1 - \sqrt{2}")
    assert "Vieta" in steps[-1].say


def test_a_quadratic_with_a_not_one_uses_the_formula_and_checks_both_roots() -> None:
    steps = worked("Реши квадратное уравнение 2x^2 + 3x - 2 = 0").steps
    index_of(steps, r"D = b^2 - 4ac = 3^2 - 4 \cdot 2 \cdot \left(-2\right) = 25")
    index_of(steps, r"x_{1} = \frac{-3 - 5}{4} = -2,\quad x_{2} = \frac{-3 + 5}{4} = \frac{1}{2}")
    assert steps[-1].say.startswith("Проверка")


def test_without_an_x_term_x_squared_is_isolated_and_both_square_roots_taken() -> None:
    steps = worked("Solve 2x^2 - 8 = 0").steps
    index_of(steps, "2 x^{2} - 8 + 8 = 0 + 8")
    index_of(steps, r"\frac{2 x^{2}}{2} = \frac{8}{2}")
    root = steps[index_of(steps, r"x = \pm\sqrt{4} = \pm 2")]
    assert "two square roots" in root.say
    assert "x squared" in " ".join(step.say for step in steps)  # said in words, not as x^2


def test_a_negative_square_has_no_real_root_and_says_why() -> None:
    result = worked("Résous x^2 + 1 = 0")
    assert result.steps[-1].latex == "x^{2} = -1 < 0"
    assert "jamais négatif" in result.steps[-1].say
    assert result.answer_text == "pas de solution réelle"


# -- other equations --------------------------------------------------------------------------------


def test_a_cubic_is_factored_from_a_root_found_among_the_divisors() -> None:
    steps = worked("Solve x^3 - 6x^2 + 11x - 6 = 0").steps
    found = steps[index_of(steps, r"1^{3} - 6 \cdot 1^{2} + 11 \cdot 1 - 6 = 0")]
    assert "divisors of 6" in found.say
    index_of(steps, r"\left(x - 1\right) \left(x^{2} - 5 x + 6\right) = 0")
    index_of(steps, r"\left(x - 1\right) \left(x - 2\right) \left(x - 3\right) = 0")


def test_fractions_are_cleared_with_the_forbidden_value_named() -> None:
    steps = worked("Löse x/(x-1) = 2").steps
    assert steps[0].latex == r"x = 2 \left(x - 1\right),\quad x \neq 1"
    assert steps[-1].latex == r"\frac{2}{2 - 1} = 2\ \checkmark"
    excluded = worked("Solve x/(x-2) = 2/(x-2)")
    assert excluded.answer_text == "no real solution"
    assert excluded.steps[-1].latex == r"x = 2:\ 2 - 2 = 0"


def test_squaring_a_root_checks_each_candidate_and_drops_the_false_one() -> None:
    result = worked("Solve sqrt(x) = x - 2")
    assert result.steps[0].latex == "x = x^{2} - 4 x + 4"
    check = result.steps[-1]
    assert "false roots" in check.say
    assert r"1 \neq -1" in check.latex and r"4 - 2 = 2\ \checkmark" in check.latex
    assert result.answer_text == "x = 4"


def test_an_exponential_equation_writes_both_sides_as_powers_of_one_base() -> None:
    steps = worked("Реши уравнение 2^x = 8").steps
    assert [step.latex for step in steps[:2]] == ["2^{x} = 2^{3}", "x = 3"]
    assert steps[-1].latex == r"2^{3} = 8\ \checkmark"


# -- systems --------------------------------------------------------------------------------------------


def test_a_system_with_opposite_coefficients_is_solved_by_adding_the_equations() -> None:
    result = worked("Solve the system 2x + y = 5 and x - y = 1")
    steps = result.steps
    assert steps[0].latex == r"\left(2 x + y\right) + \left(x - y\right) = 5 + 1"
    assert "y cancels out" in steps[0].say
    assert steps[1].latex == "3 x = 6"
    index_of(steps, r"2 \cdot 2 + y = 5")
    assert steps[-1].latex == r"2 \cdot 2 + 1 = 5,\quad 2 - 1 = 1\ \checkmark"
    assert result.answer_text == "x = 2, y = 1"


def test_a_system_without_matching_coefficients_is_solved_by_substitution() -> None:
    steps = worked("Löse das Gleichungssystem 2x + 3y = 12 und x - y = 1").steps
    assert steps[0].latex == "x = y + 1"
    assert steps[1].latex == r"2 \left(y + 1\right) + 3 y = 12"
    index_of(steps, "y = 2")
    index_of(steps, "x = 2 + 1 = 3")
    assert steps[-1].latex == r"2 \cdot 3 + 3 \cdot 2 = 12,\quad 3 - 2 = 1\ \checkmark"


# -- inequalities ---------------------------------------------------------------------------------------


def test_dividing_an_inequality_by_a_negative_number_says_the_sign_flips_on_that_line() -> None:
    steps = worked("Solve 3 - 2x >= 7").steps
    divide = steps[index_of(steps, r"\frac{- 2 x}{-2} \le \frac{4}{-2}")]
    assert "negative number flips the sign" in divide.say
    assert steps[-1].latex == r"x \le -2"


def test_a_double_inequality_does_the_same_to_all_three_parts() -> None:
    steps = worked("Löse die Ungleichung 1 < 2x + 1 <= 7").steps
    assert steps[0].latex == r"1 - 1 < 2 x + 1 - 1 \le 7 - 1"
    assert steps[1].latex == r"0 < 2 x \le 6"
    assert steps[-1].latex == r"0 < x \le 3"


def test_a_quadratic_inequality_tests_the_sign_in_each_interval() -> None:
    steps = worked("Resuelve la desigualdad x^2 - 4 > 0").steps
    assert steps[0].latex == r"\left(x + 2\right) \left(x - 2\right) > 0"
    index_of(steps, r"x < -2:\ +,\quad -2 < x < 2:\ -,\quad x > 2:\ +")
    assert steps[-1].latex == r"x \in \left(-\infty, -2\right) \cup \left(2, \infty\right)"


def test_an_absolute_value_equation_splits_into_the_two_cases_then_solves_and_checks_each() -> None:
    # Before: "The solutions: x1 = -3, x2 = 7" with no reasoning at all.
    steps = worked("Solve |x - 2| = 5").steps
    cases = index_of(steps, r"x - 2 = 5,\quad x - 2 = -5")
    assert "5 or -5" in steps[cases].say
    solved = index_of(steps, r"x - 2 = 5\ \Rightarrow\ x = 7", cases + 1)
    assert r"x - 2 = -5\ \Rightarrow\ x = -3" in steps[solved].latex
    assert steps[-1].say.startswith("Check") and r"\left|{7 - 2}\right| = 5" in steps[-1].latex


def test_an_absolute_value_equal_to_a_negative_number_has_no_solution_and_says_why() -> None:
    result = worked("Solve |x - 1| = -2")
    assert result.answer_text == "no real solution"
    assert "never negative" in result.steps[0].say


def test_an_absolute_value_case_is_said_in_the_problems_language() -> None:
    steps = worked("Реши |3 - x| = 1").steps
    assert steps[0].say == "Модуль равен 1, когда выражение под ним равно 1 или -1"
    assert r"3 - x = -1\ \Rightarrow\ x = 4" in steps[1].latex


# -- radicals (simplify) --------------------------------------------------------------------------


def test_a_root_is_simplified_by_taking_its_square_factor_out_as_written() -> None:
    # Before: the problem was parsed straight to 6√2, and the video said "6√2 = 6√2".
    result = worked("Simplify sqrt(72)")
    assert result.problem_latex == r"\sqrt{72}"
    assert [step.latex for step in result.steps] == [r"\sqrt{72} = \sqrt{6^{2} \cdot 2} = 6 \sqrt{2}"]
    assert result.answer_text == "6√2"


def test_like_roots_are_collected_after_each_is_simplified_in_the_written_order() -> None:
    result = worked("Simplify sqrt(50) - sqrt(8)")
    assert result.problem_latex == r"\sqrt{50} - \sqrt{8}"
    split, collect = result.steps
    assert split.latex == (r"\sqrt{50} = \sqrt{5^{2} \cdot 2} = 5 \sqrt{2} \\ "
                           r"\sqrt{8} = \sqrt{2^{2} \cdot 2} = 2 \sqrt{2}")
    assert collect.latex == r"\sqrt{50} - \sqrt{8} = 5 \sqrt{2} - 2 \sqrt{2} = 3 \sqrt{2}"
    assert result.answer_text == "3√2"


def test_a_root_without_a_square_factor_is_left_to_the_general_simplifier() -> None:
    assert worked("Simplify sqrt(7)").answer_text == "√7"
    assert worked("Vereinfache 2*sqrt(8)").steps[-1].latex == r"2 \sqrt{8} = 2 \cdot 2 \sqrt{2} = 4 \sqrt{2}"


def test_an_expansion_keeps_the_brackets_and_terms_in_the_order_written() -> None:
    # Before: "(x + 2)(x - 3)" was shown as "(x - 3)(x + 2)", SymPy's order, not the person's.
    result = worked("Expand (x + 2)(x - 3)")
    assert result.problem_latex == r"\left(x + 2\right) \left(x - 3\right)"
    assert result.steps[0].latex == r"\left(x + 2\right) \left(x - 3\right) = x^{2} - 3 x + 2 x - 6"
    assert result.answer_text == "x^2 - x - 6"


# -- sin x = a, cos x = a, tan x = a -------------------------------------------------------------


def test_a_sine_equation_finds_the_angles_in_one_turn_then_adds_the_period() -> None:
    # Before: refused ("infinitely many ... solutions").
    result = worked("Solve sin(x) = 1/2")
    angles, period, check = result.steps
    assert angles.latex == r"\sin x = \frac{1}{2}\ \Rightarrow\ x = \frac{\pi}{6},\quad x = \frac{5 \pi}{6}"
    assert "2 pi" in period.say
    assert period.latex == r"x = \frac{\pi}{6} + 2 \pi k,\quad x = \frac{5 \pi}{6} + 2 \pi k,\quad k \in \mathbb{Z}"
    assert r"\sin{\left(\frac{\pi}{6} \right)} = \frac{1}{2}" in check.latex
    assert result.answer_text == "x = π/6 + 2πk, x = 5π/6 + 2πk (k any integer)"
    assert result.reference is None  # a family of solutions: no SymPy answer to hold a model to


def test_the_graph_of_a_trigonometric_equation_names_its_ticks_as_angles() -> None:
    # Before: ticks at 1, 2, 3 ... under markers at π/6 and 5π/6: no angle the steps speak of.
    figure = worked("Solve sin(x) = 1/2").figure
    assert isinstance(figure, GraphFigure)
    assert figure.x_range == pytest.approx((-math.pi, 2 * math.pi, math.pi / 2))
    assert [label for _, label in figure.x_tick_labels] == [
        r"- \pi", r"- \pi / 2", r"\pi / 2", r"\pi", r"3 \pi / 2", r"2 \pi"]
    assert [value for value, _ in figure.x_tick_labels] == pytest.approx(
        [k * math.pi / 2 for k in (-2, -1, 1, 2, 3, 4)])
    assert [marker.label for marker in figure.markers] == [r"\pi / 6", r"5 \pi / 6"]


@pytest.mark.parametrize(("problem", "answer"), [
    ("Solve cos(x) = -sqrt(2)/2", "x = ±3π/4 + 2πk (k any integer)"),
    ("Solve tan(x) = 1", "x = π/4 + πk (k any integer)"),
    ("Solve sin(x) = 0", "x = πk (k any integer)"),
    ("Solve cos(x) = 0", "x = π/2 + πk (k any integer)"),
    ("Реши уравнение cos x = 1/2", "x = ±π/3 + 2πk (k целое число)"),
])
def test_each_trigonometric_family_is_written_the_usual_way(problem: str, answer: str) -> None:
    assert worked(problem).answer_text == answer


def test_a_sine_or_cosine_beyond_one_has_no_solution_and_says_why() -> None:
    result = worked("Solve cos(x) = 2")
    assert result.answer_text == "no real solution"
    assert "between -1 and 1" in result.steps[0].say


def test_a_coefficient_is_divided_out_and_a_multiple_angle_solved_for_x_at_the_end() -> None:
    # Before: both refused ("infinitely many ... solutions").
    steps = worked("Solve 2sin(x) = 1").steps
    assert steps[0].say == "Divide both sides by 2 to get sin(x) alone"
    assert steps[0].latex == r"\sin x = \frac{1}{2}"
    result = worked("Solve cos(2x) = 0")
    assert result.steps[1].latex == r"2 x = \frac{\pi}{2} + \pi k,\quad k \in \mathbb{Z}"
    assert result.steps[2].say == "Divide both sides by 2 to get x alone"
    assert result.answer_text == "x = π/4 + πk/2 (k any integer)"
