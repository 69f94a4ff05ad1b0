"""Recognise what a problem asks: its kind and its parsed formulas.

``recognise(text, language)`` returns a ``Request``: the request kind (what
to do) and the SymPy objects to do it with. Geometry word problems are read by
their words and numbers; everything else by the request words (in five
languages) around the formulas that ``parse.math_runs`` cuts out. When the
words and the formulas do not add up to one clear task, it raises
``UnsupportedProblem``: a refusal is better than a confident wrong video.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import language as lang
from appliance.generation.builtin.parse import (
    SYMBOLS,
    ParsedRelation,
    fold,
    formula_weight,
    math_runs,
    normalise,
    parse_bound,
    parse_expression,
    parse_relation,
)

NUMBER = r"\d+(?:\.\d+)?"
_BOUND = r"\([^()]{1,30}\)|[+-]?\s*(?:\d+(?:\.\d+)?(?:/\d+)?|oo|pi|e)"
_POINT = (r"[+-]?\s*(?:\d+(?:\.\d+)?(?:/\d+)?|oo|pi|infinity|inf|infinito|unendlich|infini|бесконечност\w*)")
_APPROACH = (r"->|tends? to|approaches|goes to|tiende a|стремится к|стремящемся к|geht gegen|strebt gegen|"
             r"gegen|tend vers|tendant vers")
_LIMIT_POINT = re.compile(
    rf"\b([a-z])\s*(?:{_APPROACH})\s*({_POINT})(\^?\(?[+-]\)?(?=\s|$|\)|,))?"
)
_INTEGRAL_SIGN_BOUNDS = re.compile(rf"∫\s*_\s*({_BOUND})\s*\^\s*({_BOUND})")
_BOUND_VARIABLE = r"(?:[a-z]\s*=\s*)?"  # "from x = 0 to x = 1"
_TEXT_BOUNDS = re.compile(
    rf"(?:from|de|desde|от|von|entre|between)\s+{_BOUND_VARIABLE}({_BOUND})\s+"
    rf"(?:to|a|à|hasta|до|bis|et|y|and|und)\s+{_BOUND_VARIABLE}({_BOUND})(?![\w^])"
)
_AT_POINT = re.compile(rf"\b(?:at|en|при|bei|für|fur|in|pour|para|for)\s+([a-z])\s*=\s*({_BOUND})(?![\w^])")
_GIVEN_AREA = re.compile(
    rf"(?:area|площад|flache|flacheninhalt|aire|superficie)[^\W\d_]*\s*"
    rf"(?:is|of|=|:|es|de|равна|ist|von|est|vaut|mide|betragt)?\s*(?:de\s*)?{NUMBER}"
)
_BRACKET_BOUNDS = re.compile(rf"\[\s*({_BOUND})\s*[,;]\s*({_BOUND})\s*\]")
_DIFFERENTIAL = re.compile(r"(?<![a-z])d([a-z])(?![a-z(])")
_DERIVATIVE_OPERATOR = re.compile(r"\bd\s*(?P<name>[fgy]\s*)?/\s*d\s*(?P<variable>[a-z])\b")  # d/dx, dy/dx, df/dx
# f'(x), y'' — but not the French l'équation or d'une.
# f'(x), f''(x), and f'(2): a number in the brackets is the point to evaluate at.
_PRIME = re.compile(r"\b[fghy]\s*('+|’+)\s*(?:\(\s*([a-z]|-?\d+(?:\.\d+)?(?:/\d+)?)\s*\))?(?![^\W\d_])")
_FUNCTION_PREFIX = re.compile(r"\b[fghy]\s*\(\s*([a-z])\s*\)\s*=")
_Y_PREFIX = re.compile(r"^\s*y\s*=")
_OF = r"(?:of|de|del|от|von|des|du|d')"
_PERCENT_OF = re.compile(rf"({NUMBER})\s*%\s*{_OF}\s*({NUMBER})")
_FRACTION_OF = re.compile(rf"(\d+)\s*/\s*(\d+)\s*{_OF}\s*({NUMBER})")
_RESPECT_TO = re.compile(
    r"(?:respect to|respecto a|respecto de|по переменной|nach|par rapport [aà]|по)\s+([a-z])\b"
)


@dataclass(frozen=True)
class Request:
    """One recognised task: ``kind`` and what the solver needs for it."""

    kind: str
    language: str
    expression: sympy.Expr | None = None
    variable: sympy.Symbol | None = None
    relations: tuple[ParsedRelation, ...] = ()
    lower: sympy.Expr | None = None
    upper: sympy.Expr | None = None
    point: sympy.Expr | None = None
    direction: str = "+-"
    order: int = 1
    numbers: dict[str, sympy.Expr] = field(default_factory=dict)
    shape: str = ""
    unit: str = ""
    source: str = ""  # the formula as written (arithmetic keeps the written order)
    measure: str = "area"  # area: "area" or "perimeter" (a circle's circumference)
    function_name: str = "f"  # derivative: the name the problem gives the function (y' for "dy/dx")


def recognise(text: str, language: str) -> Request:
    normalised = normalise(text, decimal_comma=language != "en")
    folded = fold(normalised)

    def asks(key: str) -> bool:
        return lang.has_stem(folded, lang.REQUEST_STEMS, key)

    if asks("proof"):
        raise UnsupportedProblem("The built-in solver computes answers; it does not write proofs, explain why "
                                 "something holds, or give definitions.")
    if asks("area") and not asks("perimeter") and _TEXT_BOUNDS.search(normalised) and re.search(r"x", normalised):
        # "the area under y = x^2 from 1 to 3": a definite integral, not a shape's area.
        return _area_under(normalised, language)
    if asks("area") and not asks("perimeter"):
        return _area(normalised, folded, language)
    if asks("perimeter"):
        return _area(normalised, folded, language, measure="perimeter")
    if asks("hypotenuse") or asks("pythagoras") or (asks("leg") and (asks("right_triangle") or "triang" in folded
                                                                      or "треугольн" in folded)):
        return _pythagorean(normalised, folded, language)
    percent = _PERCENT_OF.search(normalised)
    if percent and _numbers_outside(normalised, percent):
        raise UnsupportedProblem("The problem has numbers besides the percentage; the built-in solver does not "
                                 "read word problems of this kind.")
    if percent:
        return Request("percent", language, numbers={"percent": sympy.Rational(percent.group(1)),
                                                     "whole": sympy.Rational(percent.group(2))})
    fraction = _FRACTION_OF.search(normalised)
    if fraction and _numbers_outside(normalised, fraction):
        raise UnsupportedProblem("The problem has numbers besides the fraction; the built-in solver does not "
                                 "read word problems of this kind.")
    if fraction and not re.search(r"[a-z]\s*[-+*/^=(]|[-+*/^=)]\s*[a-z]", normalised):
        # "3/5 of 40" is a product, not the fraction 3/5 with a stray 40.
        source = f"{fraction.group(1)}/{fraction.group(2)} * {fraction.group(3)}"
        return Request("arithmetic", language, expression=parse_expression(source), source=source)
    if "∫" in normalised or asks("integral"):
        return _integral(normalised, language)
    if _DERIVATIVE_OPERATOR.search(normalised) or asks("derivative") or _PRIME.search(normalised):
        return _derivative(normalised, folded, language, second=asks("second"))
    if asks("limit") or re.search(r"\blim\b", normalised) or _LIMIT_POINT.search(normalised):
        return _limit(normalised, language)
    for kind in ("simplify", "expand", "factor"):
        if asks(kind):
            # (a + b)^2 has two letters and is still one expression to expand.
            expression, variable = _main_expression(normalised, several=True)
            # Shown as written: √72 is parsed straight to 6√2, (x + 2)(x - 3) to (x - 3)(x + 2).
            source = _main_run(normalised) if kind in ("simplify", "expand") else ""
            return Request(kind, language, expression=expression, variable=variable, source=source)
    if asks("plot"):
        expression, variable = _main_expression(_FUNCTION_PREFIX.sub(" ", normalised), strip_y=True)
        if variable is None:
            raise UnsupportedProblem("To draw a graph the built-in solver needs a function of x.")
        return Request("plot", language, expression=expression, variable=variable)
    return _relation_or_arithmetic(normalised, language, wants_roots=asks("roots") or asks("solve"))


def _numbers_outside(text: str, match: re.Match[str]) -> bool:
    return bool(re.search(r"\d", text[: match.start()] + " " + text[match.end():]))


# -- formulas ------------------------------------------------------------------------------------


def _runs_by_weight(text: str) -> list[str]:
    return sorted(math_runs(text), key=formula_weight, reverse=True)


def _single_variable(expr: sympy.Basic, preferred: sympy.Symbol | None = None,
                     several: bool = False) -> sympy.Symbol | None:
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if several and len(symbols) > 1:
        return symbols[0]
    if preferred is not None:
        if symbols and preferred not in symbols:
            raise UnsupportedProblem(f"The formula does not contain {preferred}.")
        return preferred
    if not symbols:
        return None
    if len(symbols) == 1:
        return symbols[0]
    raise UnsupportedProblem(
        "The formula has several letters ("
        + ", ".join(s.name for s in symbols)
        + "); the built-in solver handles one variable."
    )


def _main_run(text: str, strip_y: bool = False) -> str:
    """The most formula-like stretch of the text."""
    text = _FUNCTION_PREFIX.sub(" ", text)
    # A lone letter ("a" in "tell me a joke") is not a formula: it needs a digit, sign or function.
    runs = [run for run in _runs_by_weight(text) if re.search(r"[\d+\-*/^()=<>%]|[a-z]{2,}", run)]
    if not runs:
        raise UnsupportedProblem("The built-in solver found no formula in the problem.")
    main = runs[0].strip().lstrip("=").strip()
    return _Y_PREFIX.sub("", main) if strip_y else main


def _main_expression(text: str, strip_y: bool = False, preferred: sympy.Symbol | None = None,
                     several: bool = False) -> tuple[sympy.Expr, sympy.Symbol | None]:
    main = _main_run(text, strip_y)
    if re.search(r"[=<>]", main):
        raise UnsupportedProblem("Expected an expression here, not an equation.")
    expression = parse_expression(main)
    return expression, _single_variable(expression, preferred, several)


def _respect_variable(text: str) -> sympy.Symbol | None:
    match = _RESPECT_TO.search(text)
    if match and match.group(1) in SYMBOLS:
        return SYMBOLS[match.group(1)]
    return None


# -- calculus ------------------------------------------------------------------------------------


def _integral(text: str, language: str) -> Request:
    lower = upper = None
    for pattern in (_INTEGRAL_SIGN_BOUNDS, _TEXT_BOUNDS, _BRACKET_BOUNDS):
        match = pattern.search(text)
        if match:
            lower, upper = parse_bound(match.group(1)), parse_bound(match.group(2))
            text = text[: match.start()] + " ∫ " + text[match.end():]
            break
    differential = _DIFFERENTIAL.search(text)
    variable = SYMBOLS.get(differential.group(1)) if differential else None
    if differential:
        text = text[: differential.start()] + " " + text[differential.end():]
    expression, found = _main_expression(text.replace("∫", " "), strip_y=True, preferred=variable)
    variable = variable or found or SYMBOLS["x"]
    kind = "definite_integral" if lower is not None else "indefinite_integral"
    return Request(kind, language, expression=expression, variable=variable, lower=lower, upper=upper)


def _area_under(text: str, language: str) -> Request:
    """The area under a curve is its definite integral only where the curve is not below the
    x-axis; the signed integral of x^3 from -1 to 1 is 0, its area is not."""
    request = _integral(text, language)
    expression, x, lower, upper = request.expression, request.variable, request.lower, request.upper
    if lower is not None and upper is not None and expression is not None and x is not None:
        low, high = sorted((lower, upper), key=lambda bound: float(bound))
        try:
            below = sympy.solveset(expression < 0, x, sympy.Interval(low, high))
        except (NotImplementedError, TypeError, ValueError) as exc:
            raise UnsupportedProblem("The built-in solver could not tell where this curve is above the x-axis.") \
                from exc
        if below != sympy.S.EmptySet:
            raise UnsupportedProblem("The curve goes below the x-axis between these limits: its area is not its "
                                     "integral there, and the built-in solver computes integrals.")
    return request


_NAMED_FUNCTION = re.compile(r"\b([fghy])\s*(?:\(\s*[a-z]\s*\))?\s*=")


def _function_name(text: str, operator: re.Match[str] | None, prime: re.Match[str] | None) -> str:
    """The name the problem calls its function by: y for "dy/dx", "y'" or "y = …"; else f."""
    if operator and operator.group("name"):
        return operator.group("name").strip()
    if prime:
        return prime.group(0)[0]
    named = _NAMED_FUNCTION.search(text)
    return named.group(1) if named else "f"


def _derivative(text: str, folded: str, language: str, second: bool) -> Request:
    operator = _DERIVATIVE_OPERATOR.search(text)
    variable = SYMBOLS.get(operator.group("variable")) if operator else None
    order = 2 if second else 1
    prime = _PRIME.search(text)
    if prime and len(prime.group(1)) == 2:
        order = 2
    function_name = _function_name(text, operator, prime)
    text = _DERIVATIVE_OPERATOR.sub(" ", text)
    text = _PRIME.sub(" ", text)
    point = None
    if prime and prime.group(2) and not prime.group(2).isalpha():
        point = parse_bound(prime.group(2))
    at_point = _AT_POINT.search(text)
    if at_point:
        point = parse_bound(at_point.group(2))
        text = text[: at_point.start()] + " " + text[at_point.end():]
    respect = _respect_variable(text)
    variable = variable or respect
    if respect is not None:
        text = _RESPECT_TO.sub(" ", text)
    expression, found = _main_expression(text, strip_y=True, preferred=variable)
    variable = variable or found
    if variable is None:
        raise UnsupportedProblem("The derivative of a constant is 0; the built-in solver needs a function of x.")
    if point is not None and at_point is not None and at_point.group(1) != variable.name:
        raise UnsupportedProblem(f"The point is given for {at_point.group(1)}, but the function is of {variable}.")
    return Request("derivative", language, expression=expression, variable=variable, order=order, point=point,
                   function_name=function_name)


def _limit(text: str, language: str) -> Request:
    match = _LIMIT_POINT.search(text)
    if not match:
        raise UnsupportedProblem("Say where the variable goes, for example “x -> 0” or “as x approaches 2”.")
    variable = SYMBOLS.get(match.group(1))
    if variable is None:
        raise UnsupportedProblem(f"“{match.group(1)}” cannot be the variable of a limit.")
    point_text = match.group(2).replace(" ", "")
    if re.search(r"inf|бесконечн|unendlich", point_text):
        point_text = "-oo" if point_text.startswith("-") else "oo"
    point = parse_bound(point_text)
    side = (match.group(3) or "").strip("^()")
    direction = {"+": "+", "-": "-"}.get(side, "+-")
    rest = text[: match.start()] + " " + text[match.end():]
    rest = re.sub(r"(?<![a-z])lim(?![a-z])\s*_?\s*(?:\(\s*\))?", " ", rest)
    expression, _ = _main_expression(rest, strip_y=True, preferred=variable)
    return Request("limit", language, expression=expression, variable=variable, point=point, direction=direction)


# -- equations, inequalities, arithmetic ---------------------------------------------------------


def _relation_or_arithmetic(text: str, language: str, wants_roots: bool) -> Request:
    text = re.sub(r"\b(?:for|para|для|nach|pour)\s+([a-z])\b(?!\s*[-+*/^=<>(])", " ", text)
    runs = [run.strip().strip("=").strip() if run.count("=") > 1 and run.strip().endswith("=") else run
            for run in math_runs(text)]
    relation_runs = [run for run in runs if re.search(r"[=<>]", run)]
    if len(relation_runs) >= 2:
        return _system(relation_runs, language)
    if len(relation_runs) == 1:
        run = relation_runs[0]
        if run.count(",") and run.count("=") >= 2:
            return _system([part for part in run.split(",") if part.strip()], language)
        relation = parse_relation(run)
        if len(relation.sides) > 3:
            raise UnsupportedProblem("The built-in solver reads at most a double inequality like 1 < x < 3.")
        if "=" in relation.signs:
            if len(relation.signs) > 1:
                if relation.signs.count("=") >= 2:
                    raise UnsupportedProblem("Write each equation separately, e.g. “x + y = 3 and x - y = 1”.")
                raise UnsupportedProblem("The built-in solver cannot mix “=” and “<” in one statement.")
            # Both sides' letters: in 2(x + 1) = 2x + 2 the difference has none, but x is still the unknown.
            variable = _single_variable(sympy.Add(*relation.sides, evaluate=False))
            if variable is None:
                raise UnsupportedProblem("The equation has no unknown to solve for.")
            return Request("equation", language, relations=(relation,), variable=variable)
        combined = sum((side for side in relation.sides), sympy.Integer(0))
        variable = _single_variable(combined)
        if variable is None:
            raise UnsupportedProblem("The inequality has no unknown to solve for.")
        return Request("inequality", language, relations=(relation,), variable=variable)
    source = _main_run(text)
    expression, variable = _main_expression(text)
    if variable is None:
        if not re.search(r"[-+*/^%]|sqrt|sin|cos|tan|log|ln|exp|abs", source):
            raise UnsupportedProblem("The built-in solver found a number but no calculation to do.")
        others = [run for run in runs if run.strip() != source and re.search(r"\d", run)]
        if others:
            # A word problem with numbers outside the formula: computing the formula alone
            # would ignore them and give a confident wrong answer.
            raise UnsupportedProblem("The problem has numbers outside the calculation; the built-in solver "
                                     "does not read word problems of this kind.")
        return Request("arithmetic", language, expression=expression, source=source)
    if wants_roots:
        relation = ParsedRelation((expression, sympy.Integer(0)), ("=",))
        return Request("equation", language, relations=(relation,), variable=variable)
    raise UnsupportedProblem(
        "The built-in solver found an expression but no request: say what to do with it "
        "(solve, simplify, expand, factor, differentiate, integrate, plot)."
    )


def _system(runs: list[str], language: str) -> Request:
    relations = tuple(parse_relation(run) for run in runs)
    if any(relation.signs != ("=",) for relation in relations):
        raise UnsupportedProblem("The built-in solver solves systems of equations, not of inequalities.")
    if len(relations) != 2:
        raise UnsupportedProblem("The built-in solver solves systems of two equations.")
    symbols: set[sympy.Basic] = set()
    for relation in relations:
        symbols |= (relation.sides[0] - relation.sides[1]).free_symbols
    if len(symbols) != 2:
        raise UnsupportedProblem("A system of two equations needs exactly two unknowns.")
    return Request("linear_system", language, relations=relations)


# -- geometry ------------------------------------------------------------------------------------

_UNIT = r"(?:\s*(mm|cm|dm|km|m|in|ft|yd|см|мм|дм|км|м)\b)?"
_FILLER = (r"(?:\s*(?:is|are|of|=|:|es|de|mide|miden|равна|равен|равно|равны|ist|von|est|de|vaut|mesure|"
           r"misst|betragt|measures|r|d|a|b|c|h|s|w|l)\b)*")


def _numbers_with_units(text: str) -> list[tuple[sympy.Expr, str]]:
    found = []
    for match in re.finditer(rf"(?<![\w.^])({NUMBER}){_UNIT}", text):
        found.append((sympy.Rational(match.group(1)), match.group(2) or ""))
    return found


def _labelled_number(folded: str, stems: tuple[str, ...]) -> tuple[sympy.Expr, str] | None:
    """The number written next to a label: "radius 5", "radius is 5 cm", "5 cm radius"."""
    for stem in stems:
        after = re.search(rf"(?<![^\W\d_]){re.escape(stem)}[^\W\d_]*{_FILLER}\s*=?\s*({NUMBER}){_UNIT}", folded)
        if after:
            return sympy.Rational(after.group(1)), after.group(2) or ""
        before = re.search(rf"({NUMBER}){_UNIT}\s*(?:[^\W\d_]+\s+)?{re.escape(stem)}", folded)
        if before:
            return sympy.Rational(before.group(1)), before.group(2) or ""
    return None


def _area(text: str, folded: str, language: str, measure: str = "area") -> Request:
    if _GIVEN_AREA.search(folded):
        raise UnsupportedProblem("The area is given; the built-in solver computes areas from lengths, "
                                 "not lengths from areas.")
    shape = next((name for name in lang.SHAPE_STEMS if lang.has_stem(folded, lang.SHAPE_STEMS, name)), "")
    if not shape:
        raise UnsupportedProblem("The built-in solver computes areas of circles, rectangles, squares and triangles.")
    if measure == "perimeter" and shape == "triangle":
        raise UnsupportedProblem("The built-in solver computes perimeters of circles, rectangles and squares; "
                                 "a triangle's perimeter is the sum of its three sides.")
    numbers = _numbers_with_units(folded)
    if not numbers:
        raise UnsupportedProblem("The problem gives no measurements.")
    unit = next((u for _, u in numbers if u), "")
    labelled = {name: _labelled_number(folded, stems) for name, stems in lang.DIMENSION_STEMS.items()}
    values: dict[str, sympy.Expr] = {}
    if shape == "circle":
        if labelled["radius"]:
            values["radius"] = labelled["radius"][0]
        elif labelled["diameter"]:
            values["diameter"] = labelled["diameter"][0]
        elif len(numbers) == 1:
            values["radius"] = numbers[0][0]
        else:
            raise UnsupportedProblem("Give the circle's radius or diameter.")
    elif shape == "square":
        side = labelled["side"] or labelled["length"] or (numbers[0] if len(numbers) == 1 else None)
        if side is None:
            raise UnsupportedProblem("Give the side of the square.")
        values["side"] = side[0]
    else:
        first, second = ("base", "height") if shape == "triangle" else ("width", "length")
        by_label = [labelled[name] for name in (first, second)]
        if shape == "rectangle" and by_label[1] is None and labelled["height"]:
            by_label[1] = labelled["height"]
        if shape == "rectangle" and by_label[0] is None and labelled["side"]:
            by_label[0] = labelled["side"]
        if all(item is not None for item in by_label) and by_label[0] != by_label[1]:
            values[first], values[second] = (item[0] for item in by_label if item is not None)
        elif len(numbers) == 2:
            values[first], values[second] = numbers[0][0], numbers[1][0]
        else:
            raise UnsupportedProblem(f"Give the two measurements of the {shape} ({first} and {second}).")
    if any(value <= 0 for value in values.values()):
        raise UnsupportedProblem("Lengths must be positive.")
    return Request("area", language, numbers=values, shape=shape, unit=unit, measure=measure)


_GIVEN_HYPOTENUSE = re.compile(
    rf"(?:hypoten|hipoten|гипотенуз)[^\W\d_]*{_FILLER}\s*=?\s*({NUMBER})"
)


def _pythagorean(text: str, folded: str, language: str) -> Request:
    numbers = _numbers_with_units(folded)
    unit = next((u for _, u in numbers if u), "")
    values = [value for value, _ in numbers]
    hypotenuse = _GIVEN_HYPOTENUSE.search(folded)
    if hypotenuse:
        given = sympy.Rational(hypotenuse.group(1))
        others = values.copy()
        others.remove(given)
        if len(others) != 1:
            raise UnsupportedProblem("Give the hypotenuse and one leg.")
        if others[0] >= given:
            raise UnsupportedProblem("The hypotenuse must be longer than the leg.")
        return Request("pythagorean", language, numbers={"hypotenuse": given, "leg": others[0]}, unit=unit)
    if len(values) != 2:
        raise UnsupportedProblem("Give the two legs of the right triangle (or the hypotenuse and one leg).")
    if any(value <= 0 for value in values):
        raise UnsupportedProblem("Lengths must be positive.")
    return Request("pythagorean", language, numbers={"leg_a": values[0], "leg_b": values[1]}, unit=unit)
