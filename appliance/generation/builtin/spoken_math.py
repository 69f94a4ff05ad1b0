"""A formula as words a speech synthesizer reads well: "x squared times cosine x plus 2 x sine x".

espeak-ng reads "x^2cos(x)" letter by letter and skips brackets, so the answer of a derivative
or an integral was narrated as the bare word "Answer". This module says a SymPy expression the
way a teacher reads it aloud, in the five narration languages. Brackets become short pauses
(commas), which is how a person marks a group when speaking. Anything it does not know how to
say (absolute values, inverse functions, long formulas) gives None, and the caller falls back to
the answer word alone: a wrong reading is worse than none.
"""

from __future__ import annotations

import sympy

from appliance.generation.builtin.language import spoken

# Longer than this, a formula read aloud is lost on the listener; the screen shows it anyway.
MAX_SPOKEN_CHARS = 140

_WORDS: dict[str, dict[str, str]] = {
    "en": {"plus": "plus", "minus": "minus", "times": "times", "over": "over", "squared": "squared",
           "cubed": "cubed", "power": "to the power {n}", "root": "square root of", "of": "of",
           "exp": "e to the", "sin": "sine", "cos": "cosine", "tan": "tangent", "cot": "cotangent",
           "log": "natural log of", "asin": "arcsine", "acos": "arccosine", "atan": "arctangent",
           "pi": "pi"},
    "es": {"plus": "más", "minus": "menos", "times": "por", "over": "entre", "squared": "al cuadrado",
           "cubed": "al cubo", "power": "elevado a {n}", "root": "raíz cuadrada de", "of": "de",
           "exp": "e elevado a", "sin": "seno", "cos": "coseno", "tan": "tangente", "cot": "cotangente",
           "log": "logaritmo natural de", "asin": "arcoseno", "acos": "arcocoseno", "atan": "arcotangente",
           "pi": "pi"},
    "ru": {"plus": "плюс", "minus": "минус", "times": "умножить на", "over": "делённое на",
           "squared": "в квадрате", "cubed": "в кубе", "power": "в степени {n}", "root": "корень из",
           "of": "от", "exp": "e в степени", "sin": "синус", "cos": "косинус", "tan": "тангенс",
           "cot": "котангенс", "log": "натуральный логарифм от",
           "asin": "арксинус", "acos": "арккосинус", "atan": "арктангенс",
           "pi": "пи"},
    "de": {"plus": "plus", "minus": "minus", "times": "mal", "over": "durch", "squared": "Quadrat",
           "cubed": "hoch drei", "power": "hoch {n}", "root": "Wurzel aus", "of": "von",
           "exp": "e hoch", "sin": "Sinus", "cos": "Kosinus", "tan": "Tangens", "cot": "Kotangens",
           "log": "natürlicher Logarithmus von", "asin": "Arkussinus", "acos": "Arkuskosinus", "atan": "Arkustangens",
           "pi": "pi"},
    "fr": {"plus": "plus", "minus": "moins", "times": "fois", "over": "sur", "squared": "au carré",
           "cubed": "au cube", "power": "puissance {n}", "root": "racine carrée de", "of": "de",
           "exp": "e puissance", "sin": "sinus", "cos": "cosinus", "tan": "tangente", "cot": "cotangente",
           "log": "logarithme népérien de", "asin": "arc sinus", "acos": "arc cosinus", "atan": "arc tangente",
           "pi": "pi"},
}

_FUNCTIONS = {sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan", sympy.cot: "cot", sympy.log: "log",
              sympy.asin: "asin", sympy.acos: "acos", sympy.atan: "atan"}


class _Unsayable(Exception):
    """A part of the formula that has no reliable reading."""


def spoken_formula(expr: sympy.Expr, language: str) -> str | None:
    """``expr`` read aloud in ``language``, or None when it cannot be said reliably or briefly."""
    words = _WORDS.get(language, _WORDS["en"])
    try:
        text = _say(sympy.sympify(expr), words, language)
    except _Unsayable:
        return None
    text = " ".join(text.replace(" ,", ",").split()).strip(", ")
    return text if len(text) <= MAX_SPOKEN_CHARS else None


def _say(expr: sympy.Basic, words: dict[str, str], language: str) -> str:
    if expr.is_Rational:
        number = spoken(expr, language)
        if number is None:
            raise _Unsayable(expr)
        return number
    if expr is sympy.pi:
        return words["pi"]
    if expr is sympy.E:
        return "e"
    if isinstance(expr, sympy.Symbol):
        return str(expr.name)
    if isinstance(expr, sympy.Add):
        return _sum(expr, words, language)
    if isinstance(expr, sympy.Mul):
        return _product(expr, words, language)
    if isinstance(expr, sympy.Pow):
        return _power(expr, words, language)
    if isinstance(expr, sympy.exp):
        return f"{words['exp']} {_grouped(expr.args[0], words, language)},"
    for function, key in _FUNCTIONS.items():
        if isinstance(expr, function):
            (argument,) = expr.args
            if isinstance(argument, sympy.Symbol):
                return f"{words[key]} {argument.name}"
            of = "" if words[key].endswith(f" {words['of']}") else f" {words['of']}"
            return f"{words[key]}{of} {_say(argument, words, language)},"
    raise _Unsayable(expr)


def _sum(expr: sympy.Add, words: dict[str, str], language: str) -> str:
    parts: list[str] = []
    for index, term in enumerate(expr.as_ordered_terms()):
        negative = term.could_extract_minus_sign()
        body = _say(-term if negative else term, words, language)
        if index == 0:
            parts.append(f"{words['minus']} {body}" if negative else body)
        else:
            parts.append(f"{words['minus' if negative else 'plus']} {body}")
    return " ".join(parts)


def _product(expr: sympy.Mul, words: dict[str, str], language: str) -> str:
    if expr.could_extract_minus_sign():
        return f"{words['minus']} {_say(-expr, words, language)}"
    numerator, denominator = sympy.fraction(expr)
    if denominator != 1:
        return f"{_grouped(numerator, words, language)} {_over(denominator, words, language)}"
    coefficient, factors = expr.as_coeff_mul()
    said: list[str] = []
    if coefficient != 1:
        said.append(_say(coefficient, words, language))
    for index, factor in enumerate(factors):
        part = _grouped(factor, words, language)
        # "2 x" reads as two x; between two formulas the word makes the product heard.
        simple = isinstance(factor, sympy.Symbol) or (isinstance(factor, sympy.Pow)
                                                      and isinstance(factor.base, sympy.Symbol))
        joined_plainly = index == 0 and (not said or simple)
        # A bracketed sum after "times" gets a pause before it as well: "x times, x plus 1, times e".
        pause = "," if isinstance(factor, sympy.Add) and not joined_plainly else ""
        said.append(part if joined_plainly else f"{words['times']}{pause} {part}")
    return " ".join(said)


def _power(expr: sympy.Pow, words: dict[str, str], language: str) -> str:
    base, exponent = expr.args
    if exponent == sympy.Rational(1, 2):
        return f"{words['root']} {_grouped(base, words, language)},"
    if exponent.is_negative:
        return f"1 {_over(sympy.Pow(base, -exponent), words, language)}"
    function = _FUNCTIONS.get(type(base))
    if function and exponent in (2, 3) and isinstance(base.args[0], sympy.Symbol):
        # cos²x is said "cosine squared x", as it is written.
        return f"{words[function]} {words['squared' if exponent == 2 else 'cubed']} {base.args[0].name}"
    said_base = _grouped(base, words, language)
    if exponent == 2:
        return f"{said_base} {words['squared']}"
    if exponent == 3:
        return f"{said_base} {words['cubed']}"
    if base is sympy.E:
        return f"{words['exp']} {_grouped(exponent, words, language)},"
    return f"{said_base} {words['power'].format(n=_say(exponent, words, language))},"


def _over(denominator: sympy.Basic, words: dict[str, str], language: str) -> str:
    """"over x squared"; a sum below the bar gets a pause before it too ("1 over, x plus 1"),
    or it would be heard as 1/x + 1."""
    pause = "," if isinstance(denominator, sympy.Add) else ""
    return f"{words['over']}{pause} {_grouped(denominator, words, language)}"


def _grouped(expr: sympy.Basic, words: dict[str, str], language: str) -> str:
    """A sum (or a negative term) inside a product, a power or a fraction is said with a pause
    after it, where a writer puts the closing bracket."""
    said = _say(expr, words, language)
    if isinstance(expr, sympy.Add) or (expr.is_number and expr.is_negative):
        return f"{said},"
    return said
