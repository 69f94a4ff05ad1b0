"""Checking the answer a model states against the SymPy reference.

``solve.reference_answer(problem)`` is the built-in solver's answer, or None
when it cannot solve the problem (then a model's answer is "unverifiable", not
wrong). ``answers_agree(stated, reference)`` reads the stated answer the way
a teacher would: "x = 4", "x=-2 or x=3", "the roots are 3 and -2",
"x ∈ (-∞, 2)", "2x + C" (equal up to the constant), "1/2" for 0.5, decimals
rounded to the digits given. It never raises: text it cannot read disagrees.
"""

from __future__ import annotations

import math
import random
import re

import sympy
from sympy import S

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin.bounded import run_bounded
from appliance.generation.builtin.parse import (
    fold,
    math_runs,
    normalise,
    parse_bound,
    parse_expression,
    parse_relation,
)
from appliance.generation.builtin.reference import ReferenceAnswer

_NONE_WORDS = ("no solution", "no real", "no roots", "has no", "empty set", "sin solucion", "no tiene solucion",
               "no hay solucion", "ninguna solucion", "нет решени", "решений нет", "не имеет решени", "нет корн",
               "корней нет", "нет действительных", "keine losung", "keine reelle", "nicht losbar", "unlosbar",
               "pas de solution", "aucune solution", "pas de racine", "∅", "varnothing", "emptyset")
_ALL_WORDS = ("all real", "every real", "any real", "infinitely many", "all x", "every x", "any x",
              "todos los numeros", "infinitas", "cualquier", "любое", "бесконечно много", "все действительные",
              "alle reellen", "unendlich viele", "jede zahl", "tous les", "une infinite", "tout nombre", "ℝ",
              "mathbb(r)", "mathbb r")
_DNE_WORDS = ("does not exist", "doesn't exist", "dne", "no existe", "не существует", "existiert nicht",
              "n'existe pas", "nexiste pas", "undefined")
_OR_WORDS = r"\bor\b|\bo\b|\bили\b|\boder\b|\bou\b|∪|\bunion\b|;"
_AND_WORDS = r"\band\b|\by\b|\bи\b|\bund\b|\bet\b"
_INTERVAL = re.compile(r"([\[(])\s*([^,;\[\]()]+?)\s*[,;]\s*([^,;\[\]()]+?)\s*([\])])")
AGREE_DEADLINE_S = 5.0
_SAMPLE_POINTS = 7
_SAMPLE_TOLERANCE = 1e-6


def answers_agree(stated: str, reference: ReferenceAnswer) -> bool:
    """Whether a stated answer says the same as the reference (False when unreadable or too slow)."""
    if not stated or not stated.strip() or len(stated) > 2000:
        return False
    try:
        agreed: bool = run_bounded(agree_in_process, stated, reference, deadline_s=AGREE_DEADLINE_S)
    except UnsupportedProblem:
        return False
    return agreed


def agree_in_process(stated: str, reference: ReferenceAnswer) -> bool:
    try:
        return _agree(stated, reference)
    except (UnsupportedProblem, ArithmeticError, ValueError, TypeError, AttributeError, NotImplementedError,
            RecursionError, IndexError, KeyError):
        return False


def _clean(stated: str) -> str:
    """Drop Markdown emphasis and math delimiters a model wraps its answer in."""
    # **bold** is emphasis, x**2 is a power: only a pair around words counts as Markdown.
    stated = re.sub(r"(?<![\w)])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w(])", r" \1 ", stated)
    return re.sub(r"`|\$", " ", stated).strip().rstrip(".")


def _agree(stated: str, reference: ReferenceAnswer) -> bool:
    stated = _clean(stated)
    words = fold(stated)
    says_none = any(fold(word) in words for word in _NONE_WORDS)
    says_all = any(fold(word) in words for word in _ALL_WORDS)
    says_dne = any(re.search(rf"(?<![a-z]){re.escape(fold(word))}(?![a-z])", words) for word in _DNE_WORDS)
    if reference.special == "none":
        return says_none and not says_all
    if reference.special == "all":
        return says_all and not says_none
    if reference.special == "dne":
        return says_dne
    if says_none or says_dne:
        return False
    comparison = reference.comparison
    if comparison == "roots":
        return _roots_agree(stated, reference)
    if comparison == "assignment":
        return _assignment_agrees(stated, reference)
    if comparison == "set":
        return _set_agrees(stated, reference)
    if comparison == "number":
        return _number_agrees(stated, reference)
    if comparison in ("expression", "factored", "antiderivative"):
        return _expression_agrees(stated, reference)
    return False


# -- reading values ------------------------------------------------------------------------------


def _variants(stated: str) -> list[str]:
    """"x = ±2" means two answers: one text with + and one with -."""
    if "±" in stated or "+-" in stated or r"\pm" in stated:
        base = stated.replace(r"\pm", "±").replace("+-", "±")
        return [base.replace("±", "+"), base.replace("±", "-")]
    return [stated]


def _decimals_in(text: str) -> int:
    return max((len(part) for part in re.findall(r"\d\.(\d+)", text)), default=0)


def _strip_brackets(piece: str) -> str:
    """"(2" and "3)" from "x ∈ {2, 3}" after splitting at the comma."""
    while piece.startswith("(") and piece.count("(") > piece.count(")"):
        piece = piece[1:].strip()
    while piece.endswith(")") and piece.count(")") > piece.count("("):
        piece = piece[:-1].strip()
    return piece


def _stated_values(stated: str, variables: tuple[sympy.Symbol, ...],
                   decimal_comma: bool = False) -> list[tuple[sympy.Expr, int]]:
    """Constant values stated as answers, with the decimals each was given to.

    A piece "x = v" counts when its left side is a single variable (or x_1); a piece
    with a longer left side ("x^2 - 4 = 0") restates the problem and is skipped.
    """
    names = {v.name for v in variables}
    found: list[tuple[sympy.Expr, int]] = []
    for variant in _variants(stated):
        text = normalise(variant, decimal_comma=decimal_comma)
        for run in math_runs(text):
            for piece in run.split(","):
                piece = _strip_brackets(piece.strip())
                if not piece:
                    continue
                if "=" in piece:
                    left, _, right = piece.rpartition("=")
                    left_names = re.sub(r"[\s_()\d]", "", left.split("=")[0])
                    if left_names and left_names not in names and len(left_names) > 1:
                        continue
                    piece = right
                if re.search(r"[<>]", piece):
                    continue
                try:
                    value = parse_expression(piece)
                except UnsupportedProblem:
                    continue
                if value.free_symbols:
                    continue
                found.append((value, _decimals_in(piece)))
    return found


def _same_number(value: sympy.Expr, decimals: int, target: sympy.Expr) -> bool:
    if value.is_infinite or target.is_infinite:
        return bool(value == target)
    try:
        difference = abs(complex(sympy.N(value - target, 30)))
    except (TypeError, ValueError):
        return False
    if decimals == 0:
        scale = max(1.0, abs(complex(sympy.N(target))))
        return difference <= 1e-9 * scale
    # "0.33" for 1/3: rounding to the digits given (plus a hair for the rounding of the rounding).
    return bool(difference <= 0.5 * 10 ** (-decimals) + 1e-9)


def _roots_agree(stated: str, reference: ReferenceAnswer) -> bool:
    values = _stated_values(stated, reference.variables)
    if not values:
        return False
    targets = list(reference.values)
    every_value_is_a_root = all(any(_same_number(v, d, t) for t in targets) for v, d in values)
    every_root_is_stated = all(any(_same_number(v, d, t) for v, d in values) for t in targets)
    return every_value_is_a_root and every_root_is_stated


def _assignment_agrees(stated: str, reference: ReferenceAnswer) -> bool:
    text = normalise(stated, decimal_comma=False)
    assigned: dict[str, tuple[sympy.Expr, int]] = {}
    for variable, value_text in re.findall(r"\b([a-z])\s*=\s*([-+]?[^,;=\s]+(?:\s*/\s*[^,;=\s]+)?)", text):
        value_text = value_text.rstrip(".")
        try:
            value = parse_expression(value_text)
        except UnsupportedProblem:
            continue
        if not value.free_symbols:
            assigned[variable] = (value, _decimals_in(value_text))
    names = [v.name for v in reference.variables]
    if not all(name in assigned for name in names):
        pair = re.search(r"\(\s*([^,()]+)\s*,\s*([^,()]+)\s*\)", text)
        if not pair:
            return False
        try:
            ordered = [parse_expression(pair.group(1)), parse_expression(pair.group(2))]
        except UnsupportedProblem:
            return False
        assigned = {name: (value, _decimals_in(pair.group(i + 1))) for i, (name, value) in
                    enumerate(zip(names, ordered, strict=True))}
    return all(_same_number(*assigned[name], target) for name, target in zip(names, reference.values, strict=True))


def _number_agrees(stated: str, reference: ReferenceAnswer) -> bool:
    # One number is expected, so "0,5" can only be a decimal comma.
    values = _stated_values(stated, reference.variables, decimal_comma=True)
    if not values or not reference.values:
        return False
    target = reference.values[0]
    # The last number is the result of a chain like "A = πr² = 25π ≈ 78.54".
    return _same_number(*values[-1], target)


# -- sets ----------------------------------------------------------------------------------------


def _stated_set(stated: str, variable: sympy.Symbol) -> sympy.Set | None:
    text = normalise(stated.replace("∈", " in "), decimal_comma=False)
    intervals = list(_INTERVAL.finditer(text))
    if intervals:
        pieces = []
        for match in intervals:
            low, high = parse_bound(match.group(2)), parse_bound(match.group(3))
            pieces.append(sympy.Interval(low, high, match.group(1) == "(" or low.is_infinite,
                                         match.group(4) == ")" or high.is_infinite))
        return sympy.Union(*pieces)
    union: list[sympy.Set] = []
    for alternative in re.split(_OR_WORDS, text):
        parts: list[sympy.Set] = []
        for conjunct in re.split(_AND_WORDS, alternative):
            for run in math_runs(conjunct):
                if not re.search(r"[<>=]", run):
                    continue
                relation = parse_relation(run)
                for index, sign in enumerate(relation.signs):
                    left, right = relation.sides[index], relation.sides[index + 1]
                    constructors = {"<": sympy.Lt, ">": sympy.Gt, "<=": sympy.Le, ">=": sympy.Ge, "=": sympy.Eq}
                    parts.append(sympy.solveset(constructors[sign](left, right), variable, S.Reals))
        if parts:
            union.append(sympy.Intersection(*parts))
    return sympy.Union(*union) if union else None


def _interval_pieces(solution: sympy.Set) -> list[tuple[float, float, bool, bool]] | None:
    pieces = list(solution.args) if isinstance(solution, sympy.Union) else [solution]
    described = []
    for piece in pieces:
        if isinstance(piece, sympy.FiniteSet):
            described += [(float(p), float(p), False, False) for p in piece]
        elif isinstance(piece, sympy.Interval):
            described.append((float(piece.start), float(piece.end), bool(piece.left_open), bool(piece.right_open)))
        else:
            return None
    return sorted(described)


def _set_agrees(stated: str, reference: ReferenceAnswer) -> bool:
    if reference.solution_set is None or not reference.variables:
        return False
    found = _stated_set(stated, reference.variables[0])
    if found is None:
        return False
    if found == reference.solution_set:
        return True
    mine, theirs = _interval_pieces(found), _interval_pieces(reference.solution_set)
    if mine is None or theirs is None or len(mine) != len(theirs):
        return False
    decimals = _decimals_in(stated)
    tolerance = 0.5 * 10 ** (-decimals) + 1e-9 if decimals else 1e-9
    for (a_low, a_high, a_lopen, a_ropen), (b_low, b_high, b_lopen, b_ropen) in zip(mine, theirs, strict=True):
        if (a_lopen, a_ropen) != (b_lopen, b_ropen):
            return False
        for a, b in ((a_low, b_low), (a_high, b_high)):
            if math.isinf(a) or math.isinf(b):
                if a != b:
                    return False
            elif abs(a - b) > tolerance:
                return False
    return True


# -- expressions ---------------------------------------------------------------------------------


def _stated_expression(stated: str, evaluate: bool = True) -> sympy.Expr | None:
    text = normalise(stated, decimal_comma=False)
    text = re.sub(r"\b[a-z]\s*'+\s*(\(\s*[a-z]\s*\))?", " ", text)  # f'(x), y'
    text = re.sub(r"\bd\s*/\s*d\s*[a-z]\b", " ", text)
    runs = [run for run in math_runs(text) if re.search(r"[\da-z]", run)]
    if not runs:
        return None
    equations = [run for run in runs if "=" in run]
    chosen = (equations[-1] if equations else max(runs, key=len)).rpartition("=")[2].strip()
    if not chosen or re.search(r"[<>]", chosen):
        return None
    return parse_expression(chosen, evaluate=evaluate)


def _sample_points(variables: tuple[sympy.Symbol, ...]) -> list[dict[sympy.Symbol, sympy.Expr]]:
    generator = random.Random(20240607)  # fixed: the same answer always gets the same verdict
    return [{v: sympy.Rational(generator.randint(-2900, 2900), 1000) for v in variables}
            for _ in range(_SAMPLE_POINTS * 3)]


def _numerically_equal(first: sympy.Expr, second: sympy.Expr, variables: tuple[sympy.Symbol, ...]) -> bool:
    """Equal at every sample point where both are real and finite (at least a few such points)."""
    compared = 0
    for point in _sample_points(variables):
        try:
            a = complex(sympy.N(first.subs(point), 20))
            b = complex(sympy.N(second.subs(point), 20))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not all(math.isfinite(part) for part in (a.real, a.imag, b.real, b.imag)):
            continue
        if abs(a.imag) > 1e-9 or abs(b.imag) > 1e-9:
            continue
        if abs(a - b) > _SAMPLE_TOLERANCE * max(1.0, abs(b)):
            return False
        compared += 1
        if compared >= _SAMPLE_POINTS:
            break
    return compared >= 3


def _expression_agrees(stated: str, reference: ReferenceAnswer) -> bool:
    target = reference.expression
    if target is None:
        return False
    expression = _stated_expression(stated)
    if expression is None:
        return False
    variables = reference.variables or tuple(sorted(target.free_symbols, key=lambda s: s.name))
    if reference.comparison == "antiderivative":
        # Differentiating removes "+ C" (any other letter counts as a constant too). A real
        # variable lets ln|x| differentiate to 1/x rather than to an expression in re(x) and im(x).
        x = variables[0]
        real = sympy.Symbol(x.name, real=True)
        return _numerically_equal(sympy.diff(expression.subs(x, real), real),
                                  sympy.diff(target.subs(x, real), real), (real,))
    extra = expression.free_symbols - set(variables)
    if extra:
        return False
    if not _numerically_equal(expression, target, variables):
        return False
    if reference.comparison == "factored" and (target.is_Mul or target.is_Pow):
        written = _stated_expression(stated, evaluate=False)
        return written is not None and (written.is_Mul or written.is_Pow)
    return True
