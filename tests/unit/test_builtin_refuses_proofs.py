"""Proofs, "explain why" and definitions are refused by the built-in solver, never reduced to a
trivial computation ("Prove that sqrt(2) is irrational" once gave a "verified" video of
sqrt(2) = sqrt(2) ~ 1.414). Problems that merely contain a similar word still solve."""

from __future__ import annotations

import pytest

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import solve
from appliance.generation.builtin.solve import solve_in_process

NOT_COMPUTATIONS = [
    # English
    ("Prove that sqrt(2) is irrational", "en"),
    ("Prove that there are infinitely many primes", "en"),
    ("Show that x^2 + 1 > 0 for every real x", "en"),
    ("Explain why the derivative of x^2 is 2x", "en"),
    ("Why is 0.999... equal to 1?", "en"),
    ("Define the derivative of f(x) = x^2", "en"),
    ("Give the definition of a limit of a function", "en"),
    ("Give a proof that the sum of two even numbers is even", "en"),
    # Spanish
    ("Demuestra que sqrt(2) es irracional", "es"),
    ("Demostrar que 2x + 3 = 11 tiene una sola solución", "es"),
    ("Explica por qué la derivada de x^2 es 2x", "es"),
    ("¿Por qué 1/3 = 0.333...?", "es"),
    ("Muestra que x^2 - 4 = (x - 2)(x + 2)", "es"),
    # Russian
    ("Докажите, что sqrt(2) иррационально", "ru"),
    ("Докажи, что x^2 + 1 > 0", "ru"),
    ("Объясни почему производная x^2 равна 2x", "ru"),
    ("Почему 0.999... = 1?", "ru"),
    ("Дай определение предела функции", "ru"),
    # German
    ("Beweise, dass sqrt(2) irrational ist", "de"),
    ("Zeige, dass x^2 + 1 > 0 für alle x gilt", "de"),
    ("Erkläre warum die Ableitung von x^2 gleich 2x ist", "de"),
    ("Warum ist 0.999... = 1?", "de"),
    ("Definiere die Ableitung von f(x) = x^3", "de"),
    # French
    ("Démontrer que sqrt(2) est irrationnel", "fr"),
    ("Prouve que x^2 + 1 > 0 pour tout x", "fr"),
    ("Montre que x^2 - 1 = (x - 1)(x + 1)", "fr"),
    ("Explique pourquoi la dérivée de x^2 est 2x", "fr"),
    ("Pourquoi 0.999... = 1 ?", "fr"),
]

STILL_COMPUTATIONS = [
    ("Evaluate the definite integral of x^2 from 0 to 3", "en", "9"),
    ("Calcula la integral definida de x^2 de 0 a 3", "es", "9"),
    ("Solve 2x + 3 = 11", "en", "4"),
    ("Найдите производную x^3", "ru", "3"),
]


def test_the_set_covers_five_languages_and_at_least_25_prompts() -> None:
    assert len(NOT_COMPUTATIONS) >= 25
    assert {language for _, language in NOT_COMPUTATIONS} == {"en", "es", "ru", "de", "fr"}


@pytest.mark.parametrize(("problem", "language"), NOT_COMPUTATIONS)
def test_a_request_that_is_not_a_computation_is_refused(problem: str, language: str) -> None:
    with pytest.raises(UnsupportedProblem):
        solve_in_process(problem, language)


def test_the_refusal_says_what_the_solver_does_instead() -> None:
    with pytest.raises(UnsupportedProblem, match="does not write proofs"):
        solve("Prove that sqrt(2) is irrational", "en")


@pytest.mark.parametrize(("problem", "language", "answer_part"), STILL_COMPUTATIONS)
def test_a_computation_with_a_similar_word_still_solves(problem: str, language: str, answer_part: str) -> None:
    assert answer_part in solve_in_process(problem, language).answer_text
