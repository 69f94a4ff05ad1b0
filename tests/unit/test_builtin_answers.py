"""Checking a model's stated answer against the built-in solver's SymPy answer."""

from __future__ import annotations

import pytest

from appliance.generation.builtin import ReferenceAnswer, answers_agree, reference_answer

CASES: list[tuple[str, list[str], list[str]]] = [
    # (problem, stated answers that agree, stated answers that do not)
    ("Solve 2x + 3 = 11",
     ["x = 4", "x=4", "4", "The answer is x = 4.", "**x = 4**", r"$x = 4$", "x = 4.0", "Ответ: x = 4"],
     ["x = 5", "x = -4", "x = 4, x = 5", "", "no solution", "x"]),
    ("Solve x^2 - 5x + 6 = 0",
     ["x = 2, x = 3", "x=3 or x=2", "the roots are 3 and 2", "x₁ = 2, x₂ = 3", r"x_1 = 2,\ x_2 = 3",
      "x = 2 и x = 3", "x ∈ {2, 3}"],
     ["x = 2", "x = -2, x = -3", "x = 2, x = 3, x = 4", "x^2 - 5x + 6 = 0 has roots 1 and 6"]),
    ("Solve x^2 - 2x - 1 = 0",
     ["x = 1 ± √2", "x = 1 - sqrt(2), x = 1 + sqrt(2)", "x ≈ -0.414 or x ≈ 2.414", r"x = 1 \pm \sqrt{2}"],
     ["x = 1 + √2", "x = -0.5 or x = 2.5", "x = 1 ± √3"]),
    ("Solve x^2 + 1 = 0",
     ["No real solutions", "нет действительных корней", "keine reelle Lösung", "x ∈ ∅"],
     ["x = 1", "x = -1, x = 1", "x = i"]),
    ("Solve the system 2x + y = 5 and x - y = 1",
     ["x = 2, y = 1", "y = 1, x = 2", "(2, 1)", "x=2; y=1", "The solution is x = 2 and y = 1."],
     ["x = 1, y = 2", "(1, 2)", "x = 2", "x = 2, y = 3"]),
    ("Solve 2x - 5 < 3",
     ["x < 4", "x ∈ (-∞, 4)", "(-inf, 4)", "4 > x", r"x \in (-\infty, 4)"],
     ["x > 4", "x ≤ 4", "x < 3", "x ∈ (-∞, 4]", "x = 4"]),
    ("Solve x^2 - 4 > 0",
     ["x < -2 or x > 2", "x ∈ (-∞, -2) ∪ (2, ∞)", "x < -2 oder x > 2"],
     ["-2 < x < 2", "x > 2", "x < -2 or x >= 2"]),
    ("Solve 1 < 2x + 1 <= 7",
     ["0 < x ≤ 3", "x ∈ (0, 3]", "x > 0 and x <= 3"],
     ["0 ≤ x ≤ 3", "x ∈ (0, 3)", "x > 0"]),
    ("Find the derivative of x^3 + 2x",
     ["3x^2 + 2", "f'(x) = 3x² + 2", "d/dx = 3*x**2 + 2", r"$f'(x) = 3x^{2} + 2$", "y' = 2 + 3x^2"],
     ["3x^2", "x^4/4 + x^2", "3x^2 + 2x", "6x"]),
    ("Differentiate sin(x) cos(x)",
     ["cos(2x)", "cos²x - sin²x", "cos(x)^2 - sin(x)^2"],
     ["-sin(x)cos(x)", "sin(2x)"]),
    ("Integrate 2x",
     ["x^2 + C", "x²", "x^2 + 5", "F(x) = x^2 + c"],
     ["2x^2 + C", "x^2/2 + C", "2"]),
    ("∫ 1/x dx",
     ["ln|x| + C", "ln(x) + C", "log(abs(x)) + C"],
     ["1/x^2 + C", "-1/x^2 + C"]),
    ("Integrate x^2 from 0 to 1",
     ["1/3", "0.333", "≈ 0.33", "The integral equals 1/3.", r"\frac{1}{3}"],
     ["0.3334", "1/2", "3", "0.34"]),
    (r"\lim_{x \to 0} \frac{\sin x}{x}",
     ["1", "The limit is 1", "L = 1.0"],
     ["0", "does not exist", "∞"]),
    ("Find the limit of 1/x as x -> 0",
     ["The limit does not exist", "DNE", "no existe", "не существует"],
     ["0", "∞", "1"]),
    ("Find the limit of (3x^2 + 1)/(x^2 - 5) as x approaches infinity",
     ["3", "3.0"],
     ["1/5", "∞"]),
    ("Simplify (x^2 - 1)/(x - 1)",
     ["x + 1", "1 + x"],
     ["x - 1", "x^2"]),
    ("Expand (x+2)(x-3)",
     ["x^2 - x - 6", "x² − x − 6"],
     ["x^2 + x - 6", "x^2 - 6"]),
    ("Factor x^2 - 9",
     ["(x - 3)(x + 3)", "(x+3)(x-3)"],
     ["x^2 - 9", "(x - 9)(x + 1)", "(x - 3)^2"]),
    ("Factor 2x^2 - 8",
     ["2(x - 2)(x + 2)", "2 (x+2) (x-2)"],
     ["2x^2 - 8", "(x - 2)(x + 2)"]),
    ("What is 3/4 + 5/6?",
     ["19/12", "1.583", "1 7/12 = 19/12", "≈ 1.58"],
     ["8/10", "1.5", "19/13"]),
    ("What is 15% of 80?",
     ["12", "12.0", "15% of 80 is 12"],
     ["1200", "1.2", "13"]),
    ("What is 1/2 + 0?",
     ["0.5", "1/2", "0,5"],
     ["0.6", "2"]),
    ("Find the hypotenuse of a right triangle with legs 3 and 4",
     ["5", "c = 5", "The hypotenuse is 5 cm."],
     ["7", "c = 25", "√7"]),
    ("What is the area of a circle with radius 5?",
     ["25π", "A = 25π ≈ 78.54", "78.5", "about 78.54 square units", "25*pi"],
     ["10π", "78", "31.4"]),
]


@pytest.mark.parametrize(("problem", "right", "wrong"), CASES)
def test_stated_answers_are_judged_like_a_teacher_would(problem: str, right: list[str], wrong: list[str]) -> None:
    reference = reference_answer(problem)
    assert reference is not None, problem
    for stated in right:
        assert answers_agree(stated, reference), f"{problem!r}: {stated!r} should agree with {reference.answer_text!r}"
    for stated in wrong:
        assert not answers_agree(stated, reference), f"{problem!r}: {stated!r} should not agree"


def test_the_solver_agrees_with_its_own_answer_text() -> None:
    for problem, _, _ in CASES:
        reference = reference_answer(problem)
        assert reference is not None
        assert answers_agree(reference.answer_text, reference), problem


def test_unsolvable_problems_have_no_reference() -> None:
    assert reference_answer("Write a poem about the sea") is None
    assert reference_answer("Plot y = x^2") is None


def test_garbage_never_raises() -> None:
    reference = reference_answer("Solve 2x + 3 = 11")
    assert isinstance(reference, ReferenceAnswer)
    for stated in ["__import__('os')", "x = " + "9^" * 50 + "9", "(" * 500, "x" * 5000, "\\frac{", "∞∞∞"]:
        assert answers_agree(stated, reference) is False
