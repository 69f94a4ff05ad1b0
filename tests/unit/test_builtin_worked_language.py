"""What every worked solution must be: narrated in the problem's language in words a speech synthesizer
reads right, short enough for one caption line, at most MAX_STEPS steps, and LaTeX that balances."""

from __future__ import annotations

import itertools
import re
import string

import pytest

from appliance.generation.builtin.language import LANGUAGES, PHRASES, say
from appliance.generation.builtin.solve import work
from appliance.generation.builtin.templates import MAX_STEPS

PROBLEMS = [
    "Solve 2x + 3 = 11", "What is x if 5x - 7 = 3x + 1?", "Résous l'équation x/2 + 1 = 4", "Löse 3(x+1) = 2x - 5",
    "Solve 2x + 1 = 5x - 8", "Solve 11 = 2x + 3", "Solve x^2 - 5x + 6 = 0", "x² − 2x − 1 = 0, solve",
    "Resuelve x^2 = 16", "Реши квадратное уравнение 2x^2 + 3x - 2 = 0", "Résoudre x^2 + 2x + 1 = 0",
    "Résous x^2 + 1 = 0", "Löse x(x-1) = 6", "Find the roots of x^2 - 9", "Solve -x^2 + 5x - 6 = 0",
    "Solve x^3 - 6x^2 + 11x - 6 = 0", "Solve x^4 - 5x^2 + 4 = 0", "Resuelve sqrt(x + 1) = 3", "Solve sqrt(x) = x - 2",
    "Реши уравнение 2^x = 8", "Löse x/(x-1) = 2", "Solve 1/x + 1/(x+1) = 1", "Solve ln(x) = 2",
    "Solve the system 2x + y = 5 and x - y = 1", "Реши систему: x + y = 10, x - y = 2",
    "Löse das Gleichungssystem 2x + 3y = 12 und x - y = 1", "Résous le système x + 2y = 7 et 3x - y = 0",
    "Solve y = 2x + 1 and x + y = 7", "Solve 3 - 2x >= 7", "Solve 3 < 2x + 1", "Resuelve la desigualdad x^2 - 4 > 0",
    "Реши неравенство x^2 - 5x + 6 ≤ 0", "Löse die Ungleichung 1 < 2x + 1 <= 7", "Solve -3 <= 1 - 2x < 5",
    "Résous l'inéquation (x - 1)/(x + 2) > 0",
    "Find the derivative of x^3 sin(x)", "Differentiate sin(x) cos(x)", "d/dx (x^2 + 1)^3",
    "Calcula la derivada de e^(2x) / x", "Найди производную функции y = x^2 sin x",
    "Bestimme die Ableitung von f(x) = ln(x^2 + 1)", "Calcule la dérivée seconde de x^4",
    "Find the second derivative of x^2 sin(x)", "Find the derivative of x^3 at x = 2",
    "Integrate 3x^2 + 2x", "∫ x e^x dx", "Berechne das Integral von sin(2x) dx", "Integrate x^2 e^x",
    "Integrate x^2 from 0 to 3", "Calcula la integral de x^2 de 0 a 1", r"Вычисли $\int_1^2 (2x + 1)\,dx$",
    "Calcule l'intégrale de 1/x sur [1, 2]", r"\lim_{x \to 0} \frac{\sin x}{x}",
    "Find the limit of (x^2 - 4)/(x - 2) as x approaches 2", "Найди предел (1 - cos x)/x^2 при x -> 0",
    "Calcula el límite de (3x^2 + 1)/(x^2 - 5) cuando x tiende a infinito",
    "Berechne den Grenzwert von (1+1/x)^x für x gegen unendlich", "Find the limit of 1/x as x -> 0",
    "Plot y = x^2 - 4x + 3", "Zeichne den Graphen von f(x) = x^2 - 4", "Plot y = x^3 - 3x",
    "Find the hypotenuse of a right triangle with legs 3 and 4", "Катеты прямоугольного треугольника равны 6 и 8.",
    "Quelle est l'aire d'un disque de diamètre 10 ?", "Factor 2x^2 + 3x - 2", "Faktorisiere x^2 + 6x + 9",
    "Expande (2x - 1)^2", "Упрости (x^2 + 2x + 1)/(x + 1)", "What is 3/4 + 5/6?", "¿Cuánto es el 20% de 150?",
]
# Symbols a speech synthesizer mangles or that belong to formulas, not to sentences.
UNSPEAKABLE = re.compile(r"[\\^_{}·√∫±≤≥≠∞π∈∪]|\b[a-z]'\(|\$")


@pytest.fixture(scope="module")
def solutions() -> dict[str, object]:
    return {problem: work(problem)[0] for problem in PROBLEMS}


def test_every_phrase_has_the_same_placeholders_in_every_language() -> None:
    for key, table in PHRASES.items():
        assert set(table) == set(LANGUAGES), key
        fields = {frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)
                  for text in table.values()}
        assert len(fields) == 1, (key, fields)


def test_every_phrase_is_speakable() -> None:
    for key, table in PHRASES.items():
        for language, text in table.items():
            assert not UNSPEAKABLE.search(re.sub(r"\{\w+\}", "", text)), (key, language, text)
            assert len(text) <= 120, (key, language, text)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_every_step_is_short_speakable_and_balanced(problem: str, solutions: dict[str, object]) -> None:
    worked = solutions[problem]
    steps = worked.steps  # type: ignore[attr-defined]
    assert 1 <= len(steps) <= MAX_STEPS, [step.say for step in steps]
    for step in steps:
        assert step.say.strip(), problem
        assert len(step.say) <= 120, step.say
        assert not UNSPEAKABLE.search(step.say), step.say
        latex = step.latex
        assert latex.count("{") == latex.count("}"), latex
        assert latex.count(r"\left") == latex.count(r"\right"), latex
        assert "$" not in latex and "**" not in latex, latex
    # Consecutive steps are different lines: nothing is shown twice in a row.
    lines = [step.latex for step in steps if step.latex]
    assert all(a != b for a, b in itertools.pairwise(lines)), lines


@pytest.mark.parametrize(("problem", "language"), [
    ("Solve 2x + 3 = 11", "es"), ("Solve x^2 - 5x + 6 = 0", "ru"), ("Find the derivative of x^3 sin(x)", "de"),
    ("Integrate x^2 from 0 to 3", "fr"), ("Find the limit of (x^2 - 4)/(x - 2) as x approaches 2", "es"),
    ("Plot y = x^2 - 4x + 3", "ru"), ("Solve the system 2x + y = 5 and x - y = 1", "de"),
    ("Solve 3 - 2x >= 7", "fr"), ("Find the hypotenuse of a right triangle with legs 3 and 4", "es"),
])
def test_the_same_working_is_narrated_in_each_language(problem: str, language: str) -> None:
    english, _ = work(problem, "en")
    other, chosen = work(problem, language)
    assert chosen == language
    assert [step.latex for step in other.steps] == [step.latex for step in english.steps]
    for mine, theirs in zip(other.steps, english.steps, strict=True):
        assert mine.say != theirs.say, mine.say
    if language == "ru":
        assert all(re.search(r"[а-яё]", step.say.lower()) for step in other.steps)


def test_one_problem_in_each_language_is_narrated_in_it() -> None:
    for problem, language in [("Solve 2x + 3 = 11", "en"), ("Resuelve 2x + 3 = 11", "es"),
                              ("Реши уравнение 2x + 3 = 11", "ru"), ("Löse die Gleichung 2x + 3 = 11", "de"),
                              ("Résous l'équation 2x + 3 = 11", "fr")]:
        worked, chosen = work(problem)
        assert chosen == language
        assert worked.steps[0].say == say("subtract_both", language, a="3")
        assert worked.steps[-1].say == say("check_back", language)
