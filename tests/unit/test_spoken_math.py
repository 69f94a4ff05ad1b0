"""Math read aloud: the formula answers said from SymPy (appliance side) and the text the
sandbox's espeak-ng gets (sandbox side). Before these, a derivative's video ended on the bare
word "Answer", the Russian voice said "5" for "-5", every voice but the English one read 78.54
as 7854, and " - " between terms was a pause, not "minus" (heard with espeak-ng -x)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import sympy

from appliance.generation.builtin.solve import work
from appliance.generation.builtin.spoken_math import MAX_SPOKEN_CHARS, spoken_formula
from appliance.generation.builtin.templates import narration_texts, spoken_answer
from tests.unit.test_speech import sandbox_voice

x = sympy.Symbol("x")


@pytest.mark.parametrize(("expr", "language", "said"), [
    (x**2 * sympy.cos(x) + 2 * x * sympy.sin(x), "en", "x squared times cosine x plus 2 x times sine x"),
    ((x - 1) * sympy.exp(x), "en", "x minus 1, times e to the x"),
    ((1 - sympy.log(x)) / x**2, "fr", "1 moins logarithme népérien de x, sur x au carré"),
    (2 * x * sympy.cos(x**2), "de", "2 x mal Kosinus von x Quadrat"),
    (1 / (x + 1), "en", "1 over, x plus 1"),
    (-3 * x**4 + x / 2, "es", "menos 3 x elevado a 4, más x entre 2"),
    (sympy.atan(x), "ru", "арктангенс x"),
])
def test_a_formula_is_said_in_words(expr: sympy.Expr, language: str, said: str) -> None:
    assert spoken_formula(expr, language) == said


def test_what_has_no_reliable_reading_is_not_said() -> None:
    assert spoken_formula(sympy.Abs(x), "en") is None
    long_sum = sum(sympy.sin(k * x) for k in range(1, 12))
    assert spoken_formula(long_sum, "en") is None
    assert len(spoken_formula(sum(sympy.sin(k * x) for k in range(1, 3)), "en") or "") <= MAX_SPOKEN_CHARS


@pytest.mark.parametrize(("problem", "ending"), [
    ("Найди производную функции y = x^2 sin x",
     "Ответ: производная равна x в квадрате умножить на косинус x плюс 2 x умножить на синус x."),
    ("Integrate x e^x dx", "Answer: an antiderivative is x minus 1, times e to the x, plus C."),
    ("Find the second derivative of x^3 e^x",
     "Answer: the second derivative is x times, x squared plus 6 x plus 6, times e to the x."),
    ("Calcula la integral de 1/(x^2+1)", "Respuesta: una primitiva es arcotangente x, más C."),
    ("Find the derivative of x^2 at x = 3", "Answer: f'(3) = 6."),  # the voice says "f prime of 3"
    # Before: the bare word "Answer" (the text was longer than the voice would read).
    ("Plot sin(x) + cos(x)", "Answer: period 2 pi, f(0) = 1, zeros: x = - pi/4 + pi k, minimum (-3 pi/4 + 2 pi k, "
                             "- root of 2), maximum ( pi/4 + 2 pi k, root of 2) (k any integer)."),
])
def test_a_formula_answer_is_read_out_not_just_announced(problem: str, ending: str) -> None:
    worked, language = work(problem)
    assert spoken_answer(worked, language) == ending
    assert narration_texts(worked, language)[-1] == ending


def test_answers_that_were_already_speakable_keep_their_reading() -> None:
    worked, language = work("Solve 2x + 3 = 11")
    assert spoken_answer(worked, language) == "Answer: x = 4."


# -- what espeak-ng is given in the sandbox ----------------------------------------------------

@pytest.mark.parametrize(("text", "language", "said"), [
    ("Сумма -5. Это -2 и -3", "ru", "Сумма минус 5. Это минус 2 и минус 3"),
    ("Summe -5. Es sind -2 und -3", "de", "Summe minus 5. Es sind minus 2 und minus 3"),
    ("Ответ: x = 1 - корень из 2", "ru", "Ответ: икс равно 1 минус корень из 2"),
    ("x^2 - x - 6", "en", "x squared minus x minus 6"),
    ("A = 25π ≈ 78.54", "fr", "A égale 25 pi, environ 78,54"),
    ("A = 25π ≈ 78.54", "en", "A equals 25 pi, approximately 78.54"),
    ("3/4 + 5/6 = 19/12", "de", "3 durch 4 + 5 durch 6 gleich 19 durch 12"),
    ("f'(x) = e^(-x) − 2", "es", "f prima de (x) igual a e elevado a menos x menos 2"),
    ("x < -2 o x > 2", "es", "x menor que menos 2 o x mayor que 2"),
    ("x_1 = 2, x_2 = 3", "en", "x 1 equals 2, x 2 equals 3"),
    ("minimum (2, -1)", "en", "minimum (2, minus 1)"),
    ("Answer: f'(3) = 6.", "de", "Answer: f Strich von (3) gleich 6."),
    ("x ≠ 2", "de", "x ungleich 2"),
    # The French voice says nothing for "=": "x = 2" was heard as "x 2".
    ("x = 2, y = 3", "fr", "x égale 2, i grec égale 3"),
    # Russian: variables by their Russian names ("y" was read as English "why"), products spelled out.
    ("D = b^2 - 4ac, y = 2x", "ru", "дэ равно бэ в квадрате минус 4 а цэ, игрек равно 2 икс"),
    ("2x·cos(x) + C", "ru", "2 икс умножить на косинус ( икс ) + цэ"),
    # Spanish "y" is the variable only inside a formula; elsewhere it is the word "and".
    ("Respuesta: x = 2, y = 1. Restamos y simplificamos", "es",
     "Respuesta: x igual a 2, ye igual a 1. Restamos y simplificamos"),
    ("il y a deux racines", "fr", "il y a deux racines"),
    ("Son -2 y -3. y - 3 = 0", "es", "Son menos 2 y menos 3. ye menos 3 igual a 0"),
    # A derivative named y' (the problem said "dy/dx" or "y = ..."): "prime", with no "of".
    ("Answer: y' = 2x.", "en", "Answer: y prime equals 2x."),
    ("Ответ: y'' = 6x.", "ru", "Ответ: игрек два штриха равно 6 икс."),
    ("Respuesta: y' = 2x.", "es", "Respuesta: ye prima igual a 2x."),
    ("Résous l'équation: y' = 2x", "fr", "Résous l'équation: i grec prime égale 2x"),
    # A family of angles: the minus before π was silent.
    ("minimum (-π/2 + 2πk, -1)", "en", "minimum (minus pi over 2 + 2 pi k, minus 1)"),
    # The answer's words put a space after a sign: "- pi/4", "- root of 2" (both were silent).
    ("x = - pi/4 + pi k, minimum (- 3 pi/4 + 2 pi k, - root of 2)", "en",
     "x equals minus pi over 4 + pi k, minimum (minus 3 pi over 4 + 2 pi k, minus root of 2)"),
    ("x = 2 - 3, Antwort - fertig", "de", "x gleich 2 minus 3, Antwort - fertig"),
])
def test_the_sandbox_voice_reads_math_in_its_own_words(text: str, language: str, said: str) -> None:
    assert sandbox_voice().speakable(text, language) == said


@pytest.mark.parametrize("text", ["Hoch- und Tiefpunkt, die y-Achse", "плюс-минус", "L'Hôpital", "c'est-à-dire",
                                  "Решение — точка пересечения"])
def test_words_with_hyphens_and_dashes_are_left_alone(text: str) -> None:
    assert sandbox_voice().speakable(text, "de") == text


def test_espeak_gets_the_speakable_text_in_the_requested_language(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    voice = sandbox_voice()
    voice.configure({"enabled": True, "language": "ru"})
    calls: list[list[str]] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(voice.subprocess, "run", run)
    voice._espeak("Площадь 78.54, сумма -5", tmp_path / "clip.wav")
    (command,) = calls
    assert command[command.index("-v") + 1] == "ru"
    assert command[-1] == "Площадь 78,54, сумма минус 5"
