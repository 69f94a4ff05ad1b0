"""Equations, systems of two linear equations, and inequalities in one variable.

Worked the way a teacher writes them on the board: each operation on both
sides is a line of its own (2x + 3 - 3 = 11 - 3) followed by its result
(2x = 8); a quadratic is factored with the two numbers shown (product c, sum
b) or solved by the formula with a, b, c and the discriminant substituted;
factors, the equations they give and the roots all run in ascending order of
the roots; and a solution is checked by substituting it back.
"""

from __future__ import annotations

import itertools
import math
import re

import sympy
from sympy import S

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say, spoken
from appliance.generation.builtin.parse import ParsedRelation
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.templates import MAX_STEPS
from appliance.generation.builtin.worked import (
    Curve,
    GraphFigure,
    Marker,
    NumberLineFigure,
    Step,
    Worked,
    approx,
    plain,
    tex,
)

MAX_LISTED_SOLUTIONS = 6
CHECK = r"\ \checkmark"
_SIGN_LATEX = {"<": "<", ">": ">", "<=": r"\le", ">=": r"\ge", "=": "="}
_SIGN_PLAIN = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "=": "="}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}


# -- writing formulas ----------------------------------------------------------------------------


def relation_latex(sides: tuple[sympy.Expr, ...], signs: tuple[str, ...]) -> str:
    parts = [tex(sides[0])]
    for sign, side in zip(signs, sides[1:], strict=True):
        parts += [_SIGN_LATEX[sign], tex(side)]
    return " ".join(parts)


def relation_plain(sides: tuple[sympy.Expr, ...], signs: tuple[str, ...]) -> str:
    parts = [plain(sides[0])]
    for sign, side in zip(signs, sides[1:], strict=True):
        parts += [_SIGN_PLAIN[sign], plain(side)]
    return " ".join(parts)


def _step(say_text: str, sides: tuple[sympy.Expr, ...], signs: tuple[str, ...]) -> Step:
    return Step(say_text, relation_latex(sides, signs), relation_plain(sides, signs))


def wrapped(expr: sympy.Expr) -> str:
    """LaTeX of a factor: in brackets when it is a sum or starts with a minus sign."""
    text = tex(expr)
    if expr.is_Add or text.startswith("-"):
        return rf"\left({text}\right)"
    return text


def wrapped_plain(expr: sympy.Expr) -> str:
    text = plain(expr)
    return f"({text})" if expr.is_Add or text.startswith("-") else text


def power_base(expr: sympy.Expr) -> str:
    """LaTeX of ``expr`` as the base of a power: bare only for a letter or a natural number."""
    if expr.is_Symbol or (expr.is_Integer and expr >= 0) or expr in (sympy.E, sympy.pi):
        return tex(expr)
    return rf"\left({tex(expr)}\right)"


def _bare(value: sympy.Expr) -> bool:
    return bool((value.is_Integer and value >= 0) or value in (sympy.pi, sympy.E))


def _put_in(text: str, name: str, value: sympy.Expr, latex: bool) -> str:
    """Every ``name`` in ``text`` (a printed formula) replaced by ``value``, bracketed and with a
    multiplication dot where the formula needs them: 2x -> 2·4, x^2 -> (-1)^2, (x - 1) -> (-2 - 1)."""
    bare = tex(value) if latex else plain(value)
    bracketed = rf"\left({bare}\right)" if latex else f"({bare})"
    pattern = re.compile(rf"(?<![\\A-Za-z]){re.escape(name)}(?![A-Za-z])")
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(text[position: match.start()])
        position = match.end()
        written = "".join(out).rstrip()
        after = text[match.end():].lstrip()
        opens = written == "" or written.endswith(("(", "{", "="))
        closes = after == "" or after.startswith(("+", "-", ")", "}", "=", "\\right", ",", "\\quad"))
        # A product like 2y can stand bare between signs: x + 2y; a sum or a negative needs brackets.
        simple = not value.is_Add and not bare.startswith("-")
        between_signs = closes and written.endswith(("+", "-"))
        shown = bare if _bare(value) or (opens and closes) or (simple and between_signs) else bracketed
        # 2x -> 2·4 needs a dot; 2(y + 1) and 3(-8) do not.
        product = bool(written) and (written[-1].isdigit() or written.endswith(("}", ")")))
        if product and not shown.startswith(("\\left(", "(")):
            shown = (r"\cdot " if latex else "·") + shown
        out.append(shown)
    return "".join(out) + text[position:]


def substituted(expr: sympy.Expr, values: dict[sympy.Symbol, sympy.Expr]) -> tuple[str, str]:
    """``expr`` with the values written in, not worked out: 2·4 + 3 for 2x + 3 at x = 4.

    The formula is printed first and the values put in its text, so it keeps its
    written order and nothing is evaluated."""
    latex, text = tex(expr), plain(expr)
    for variable, value in values.items():
        latex = _put_in(latex, tex(variable), value, latex=True)
        text = _put_in(text, variable.name, value, latex=False)
    return latex, text


def _with_added(side: sympy.Expr, amounts: list[sympy.Expr]) -> tuple[str, str]:
    """A side with amounts added to it, written out: "2x + 3 - 3"."""
    latex, text = tex(side), plain(side)
    for amount in amounts:
        negative = amount.could_extract_minus_sign()
        magnitude = -amount if negative else amount
        sign = "-" if negative else "+"
        latex += f" {sign} " + (rf"\left({tex(magnitude)}\right)" if magnitude.is_Add else tex(magnitude))
        text += f" {sign} " + (f"({plain(magnitude)})" if magnitude.is_Add else plain(magnitude))
    return latex, text


def _spoken_term(term: sympy.Expr, x: sympy.Symbol, x_words: str, language: str) -> str | None:
    """A term "c·x" or a number as words for the narration ("2 x", "3"), or None."""
    if term.has(x):
        coefficient = sympy.simplify(term / x)
        if coefficient.has(x):
            return None
        if coefficient == 1:
            return x_words
        number = spoken(coefficient, language)
        return f"{number} {x_words}" if number is not None else None
    return spoken(term, language)


def _move_phrase(added: sympy.Expr, x: sympy.Symbol, x_words: str, language: str, fallback: str) -> str:
    """"Subtract 3 from both sides" / "Add 2 x to both sides" for adding ``added`` to both sides."""
    negative = added.could_extract_minus_sign()
    words = _spoken_term(-added if negative else added, x, x_words, language)
    if words is None:
        return fallback
    return say("subtract_both" if negative else "add_both", language, a=words)


def _sorted_real(values: list[sympy.Expr]) -> list[sympy.Expr]:
    return sorted(values, key=lambda value: float(sympy.N(value)))


def _is_nice(value: sympy.Expr) -> bool:
    return (value.is_real is True and not value.has(sympy.RootOf, sympy.I)
            and sympy.count_ops(value) <= 25)


def roots_text(variable: sympy.Symbol, roots: list[sympy.Expr]) -> tuple[str, str]:
    """("x = -2, x = 3", LaTeX) for a list of roots."""
    plain_text = ", ".join(f"{variable} = {plain(root)}" for root in roots)
    if len(roots) == 1:
        latex = f"{tex(variable)} = {tex(roots[0])}"
    else:
        latex = r",\quad ".join(f"{tex(variable)}_{{{i}}} = {tex(root)}" for i, root in enumerate(roots, 1))
    return plain_text, latex


def fit_steps(steps: list[Step]) -> list[Step]:
    """At most ``MAX_STEPS``: the first step (how the work starts) and the last ones (how it ends)."""
    if len(steps) <= MAX_STEPS:
        return steps
    return steps[:1] + steps[len(steps) - MAX_STEPS + 1:]


# -- checks ----------------------------------------------------------------------------------------


def _check_line(left: sympy.Expr, right: sympy.Expr, values: dict[sympy.Symbol, sympy.Expr]) -> tuple[str, str, bool]:
    """Both sides with the values put in: (LaTeX, plain, whether they agree)."""
    variables = set(values)
    left_value = sympy.simplify(left.subs(values))
    right_value = sympy.simplify(right.subs(values))
    agree = sympy.simplify(left_value - right_value) == 0
    parts = []
    for side, value in ((left, left_value), (right, right_value)):
        if side.free_symbols & variables:
            latex, text = substituted(side, values)
            parts.append((latex, text, value))
        else:
            parts.append((tex(side), plain(side), None))
    (left_latex, left_plain, left_done), (right_latex, right_plain, right_done) = parts
    # A side that is just a letter shows its value already: "5 = 2·2 + 1", not "5 = 5, 2·2 + 1 = 5".
    trivial = left_latex == tex(left_value) or right_latex == tex(right_value)
    if left_done is not None and right_done is not None and not trivial:
        latex = rf"{left_latex} = {tex(left_done)},\quad {right_latex} = {tex(right_done)}"
        text = f"{left_plain} = {plain(left_done)}, {right_plain} = {plain(right_done)}"
    else:
        latex, text = f"{left_latex} = {right_latex}", f"{left_plain} = {right_plain}"
    if agree:
        return latex + CHECK, text + " ✓", True
    return (latex + rf"\ \Rightarrow\ {tex(left_value)} \neq {tex(right_value)}",
            text + f" ⇒ {plain(left_value)} ≠ {plain(right_value)}", False)


def check_step(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, roots: list[sympy.Expr],
               language: str) -> Step | None:
    """Each root put back into the original equation, both sides agreeing (None if a root is not simple)."""
    if not roots or len(roots) > 3 or not all(root.is_Rational for root in roots):
        return None
    lines, texts = [], []
    for root in roots:
        latex, text, agree = _check_line(left, right, {x: root})
        if not agree:
            return None
        if len(roots) > 1:
            latex = rf"{tex(x)} = {tex(root)}:\ {latex}"
        text = f"{x} = {plain(root)}: {text}"
        lines.append(latex)
        texts.append(text)
    return Step(say("check_back" if len(roots) == 1 else "check_each", language), r" \\ ".join(lines),
                "; ".join(texts))


# -- linear equations and inequalities --------------------------------------------------------------


def linear_steps(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol, language: str,
                 budget: int = MAX_STEPS, x_words: str | None = None) -> list[Step]:
    """From ``left sign right`` (linear in x) to ``x sign value``: each operation on both sides, then its result.

    Longer than ``budget``: the two moves become one ("terms with x to the left"), then
    the operations go and only their results stay."""
    words = x_words or x.name
    steps: list[Step] = []
    for merge, show in ((False, True), (True, True), (True, False)):
        steps = _linear_attempt(left, sign, right, x, language, words, merge, show)
        if len(steps) <= budget:
            return steps
    return steps[len(steps) - budget:] if budget > 0 else []


def _linear_attempt(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol, language: str,
                    words: str, merge: bool, show: bool) -> list[Step]:
    steps: list[Step] = []
    current_left, current_right = sympy.expand(left), sympy.expand(right)
    if (current_left, current_right) != (left, right):
        steps.append(_step(say("expand_both", language), (current_left, current_right), (sign,)))
    if sign == "=" and current_left.coeff(x, 1) == 0 and current_right.coeff(x, 1) != 0:
        steps.append(_step(say("swap_sides", language, var=words), (current_right, current_left), (sign,)))
        current_left, current_right = current_right, current_left
    coefficient = current_left.coeff(x, 1) - current_right.coeff(x, 1)
    constant = current_right.coeff(x, 0) - current_left.coeff(x, 0)
    moves = [move for move in (-current_right.coeff(x, 1) * x, -current_left.coeff(x, 0)) if move != 0]
    groups = [moves] if merge and len(moves) == 2 else [[move] for move in moves]
    collect = say("collect", language, var=words)
    for index, group in enumerate(groups):
        last = index == len(groups) - 1 and coefficient == 1
        phrase = collect if len(group) > 1 else _move_phrase(group[0], x, words, language, collect)
        new_left = sympy.expand(current_left + sum(group))
        new_right = sympy.expand(current_right + sum(group))
        if show:
            left_latex, left_plain = _with_added(current_left, group)
            right_latex, right_plain = _with_added(current_right, group)
            steps.append(Step(phrase, f"{left_latex} {_SIGN_LATEX[sign]} {right_latex}",
                              f"{left_plain} {_SIGN_PLAIN[sign]} {right_plain}"))
            phrase = say("solved" if last else "simplify_sides", language, var=words)
        steps.append(_step(phrase, (new_left, new_right), (sign,)))
        current_left, current_right = new_left, new_right
    if coefficient != 1:
        steps += _isolate_steps(coefficient, constant, sign, x, language, words, show)
    return steps


def _isolate_steps(coefficient: sympy.Expr, constant: sympy.Expr, sign: str, x: sympy.Symbol, language: str,
                   words: str, show: bool) -> list[Step]:
    """coefficient·x sign constant -> x sign value: divide (or multiply by the reciprocal of a fraction)."""
    negative = bool(coefficient < 0)
    new_sign = _FLIPPED[sign] if negative else sign
    value = constant / coefficient
    term = coefficient * x
    if coefficient.is_Rational and not coefficient.is_Integer:
        factor = 1 / coefficient
        number = spoken(factor, language)
        phrase = (say("multiply_both", language, a=number, var=words) if number is not None
                  else say("divide_coefficient", language, var=words))
        if negative and sign != "=":
            phrase += ". " + say("flip_multiply", language)
        latex = (rf"{wrapped(factor)} \cdot {wrapped(term)} {_SIGN_LATEX[new_sign]} "
                 rf"{wrapped(factor)} \cdot {wrapped(constant)}")
        text = (f"{wrapped_plain(factor)} · {wrapped_plain(term)} {_SIGN_PLAIN[new_sign]} "
                f"{wrapped_plain(factor)} · {wrapped_plain(constant)}")
    else:
        number = spoken(coefficient, language)
        phrase = (say("divide", language, a=number, var=words) if number is not None
                  else say("divide_coefficient", language, var=words))
        if negative and sign != "=":
            phrase += ". " + say("flip", language)
        latex = (rf"\frac{{{tex(term)}}}{{{tex(coefficient)}}} {_SIGN_LATEX[new_sign]} "
                 rf"\frac{{{tex(constant)}}}{{{tex(coefficient)}}}")
        text = (f"{wrapped_plain(term)}/{wrapped_plain(coefficient)} {_SIGN_PLAIN[new_sign]} "
                f"{wrapped_plain(constant)}/{wrapped_plain(coefficient)}")
    if not show:
        return [_step(phrase, (x, value), (new_sign,))]
    return [Step(phrase, latex, text), _step(say("solved", language, var=words), (x, value), (new_sign,))]


# -- one equation ------------------------------------------------------------------------------


def solve_equation(request: Request) -> Worked:
    relation = request.relations[0]
    variable = request.variable
    assert variable is not None
    left, right = relation.sides
    moved = sympy.expand(left - right)
    if moved.is_polynomial(variable):
        degree = sympy.degree(moved, variable) if moved != 0 else 0
        if degree <= 1:
            return _linear(request, left, right, variable)
        if degree == 2:
            return _quadratic(request, left, right, variable)
    return _general(request, left, right, variable)


def _linear(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked:
    language = request.language
    steps: list[Step] = []
    left_expanded, right_expanded = sympy.expand(left), sympy.expand(right)
    coefficient = left_expanded.coeff(x, 1) - right_expanded.coeff(x, 1)
    constant = right_expanded.coeff(x, 0) - left_expanded.coeff(x, 0)
    problem = relation_latex((left, right), ("=",))
    figure_curves = _two_sides_curves(left, right, x, [], language)
    if coefficient == 0:
        if (left_expanded, right_expanded) != (left, right):
            steps.append(_step(say("expand_both", language), (left_expanded, right_expanded), ("=",)))
        if constant == 0:
            steps.append(Step(say("identity", language), "0 = 0", "0 = 0"))
            text = say("all_reals", language)
            reference = ReferenceAnswer("linear_equation", text, "set", (x,), solution_set=S.Reals, special="all")
            return Worked("linear_equation", say("title.linear_equation", language), problem, tuple(steps),
                          rf"{tex(x)} \in \mathbb{{R}}", text, reference, figure_curves)
        steps.append(Step(say("contradiction", language),
                          f"{tex(left_expanded.coeff(x, 0))} = {tex(right_expanded.coeff(x, 0))}",
                          f"{plain(left_expanded.coeff(x, 0))} = {plain(right_expanded.coeff(x, 0))}"))
        text = say("no_solution", language)
        reference = ReferenceAnswer("linear_equation", text, "roots", (x,), values=(), solution_set=S.EmptySet,
                                    special="none")
        return Worked("linear_equation", say("title.linear_equation", language), problem, tuple(steps),
                      r"\varnothing", text, reference, figure_curves)
    root = constant / coefficient
    steps += linear_steps(left, "=", right, x, language, budget=MAX_STEPS - 1)
    check = check_step(left, right, x, [root], language)
    if check is not None:
        steps.append(check)
    text, latex = roots_text(x, [root])
    reference = ReferenceAnswer("linear_equation", text, "roots", (x,), values=(root,),
                                solution_set=sympy.FiniteSet(root))
    figure = _two_sides_curves(left, right, x, [root], language)
    return Worked("linear_equation", say("title.linear_equation", language), problem, tuple(fit_steps(steps)),
                  latex, text, reference, figure)


# -- quadratics ------------------------------------------------------------------------------------


def to_zero_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                  compact: bool = False) -> list[Step]:
    """``left = right`` -> ``polynomial = 0``: the subtraction on both sides, then the collected result."""
    moved = sympy.expand(left - right)
    if right == 0:
        return [] if left == moved else [_step(say("expand_collect", language), (moved, S.Zero), ("=",))]
    if compact:
        return [_step(say("move_all", language), (moved, S.Zero), ("=",))]
    phrase = _move_phrase(-right, x, x.name, language, say("move_all", language))
    if right.has(x) and not (right.is_Mul or right.is_Symbol or right.is_Pow):
        phrase = say("move_all", language)
    left_latex, left_plain = _with_added(left, [-right])
    right_latex, right_plain = _with_added(right, [-right])
    result_key = "expand_collect" if sympy.expand(left) != left else "simplify_sides"
    return [Step(phrase, f"{left_latex} = {right_latex}", f"{left_plain} = {right_plain}"),
            _step(say(result_key, language), (moved, S.Zero), ("=",))]


def _real_roots(poly: sympy.Expr, x: sympy.Symbol) -> list[sympy.Expr]:
    return _sorted_real([r for r in sympy.roots(sympy.Poly(poly, x)) if r.is_real])


def quadratic_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                    budget: int = MAX_STEPS, check: bool = True) -> tuple[list[Step], list[sympy.Expr]]:
    """A quadratic equation worked to its real roots (ascending) and, room allowing, checked."""
    moved = sympy.expand(left - right)
    a, b, c = sympy.Poly(moved, x).all_coeffs()
    roots = _real_roots(moved, x)
    steps: list[Step] = []
    factors = [f for f in sympy.Mul.make_args(left) if f.has(x)]
    if right == 0 and len(factors) == 2 and all(f.is_polynomial(x) and sympy.degree(f, x) == 1 for f in factors):
        # (x - 1)(x + 2) = 0 is already a product: each factor zero, no expanding.
        coefficient, ordered = ordered_factors(left, x)
        steps = _zero_product_steps(coefficient, ordered, x, roots, language)
        closing = check_step(left, right, x, roots, language) if check else None
        return steps + ([closing] if closing is not None else []), roots
    for compact in (False, True):
        work_left, work_right = left, right
        steps = []
        if a < 0 and b != 0:
            # -x² + 5x - 4 = 0 is x² - 5x + 4 = 0 times -1: the familiar form, and the two numbers apply.
            steps = to_zero_steps(left, right, x, language, compact=True)
            work_left, work_right = -moved, S.Zero
            steps.append(_step(say("negate", language), (work_left, work_right), ("=",)))
        na, nb, nc = sympy.Poly(sympy.expand(work_left - work_right), x).all_coeffs()
        discriminant = nb**2 - 4 * na * nc
        integral = all(coefficient.is_Integer for coefficient in (na, nb, nc))
        if nb == 0:
            steps += _pure_square_steps(work_left, work_right, x, language, compact, budget)
        elif nc == 0:
            steps += _common_x_steps(work_left, work_right, x, language, compact, roots)
        elif na == 1 and integral and discriminant >= 0 and sympy.sqrt(discriminant).is_Integer:
            steps += _two_numbers_steps(work_left, work_right, x, language, compact, roots)
        else:
            steps += _formula_steps(work_left, work_right, x, language, compact, roots)
        closing = None
        if check and roots:
            if all(root.is_Rational for root in roots):
                closing = check_step(left, right, x, roots, language)
            elif len(roots) == 2:
                closing = _vieta_step(a, b, c, roots, language)
        if closing is not None and len(steps) < budget:
            steps.append(closing)
        if len(steps) <= budget:
            return steps, roots
    # Still too long: the coefficients can be read off the equation, then the first lines go.
    steps = [step for step in steps if not step.latex.startswith("a = ")]
    return steps[max(len(steps) - budget, 0):], roots


def _pure_square_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str, compact: bool,
                       budget: int) -> list[Step]:
    """a x² + c = 0 (no x term): get x² alone, then x = ±√(-c/a)."""
    moved = sympy.expand(left - right)
    a, c = moved.coeff(x, 2), moved.coeff(x, 0)
    square = sympy.Symbol(f"{x.name}^2")
    steps: list[Step] = []
    left_expanded, right_expanded = sympy.expand(left), sympy.expand(right)
    sides = (left_expanded.subs(x**2, square), right_expanded.subs(x**2, square))
    if sides[0].has(x) or sides[1].has(x):
        steps += to_zero_steps(left, right, x, language, compact=True)
        sides = (moved.subs(x**2, square), S.Zero)
    elif (left_expanded, right_expanded) != (left, right):
        steps.append(_step(say("expand_both", language), (left_expanded, right_expanded), ("=",)))
    words = say("squared_spoken", language, var=x.name)
    steps += linear_steps(sides[0], "=", sides[1], square, language, budget=max(budget - 3, 1), x_words=words)
    value = -c / a
    if value < 0:
        steps.append(Step(say("square_negative", language), rf"{tex(x)}^{{2}} = {tex(value)} < 0",
                          f"{x}^2 = {plain(value)} < 0"))
        return steps
    if value == 0:
        steps.append(Step(say("square_zero", language), f"{tex(x)} = 0", f"{x} = 0"))
        return steps
    root = sympy.sqrt(value)
    latex = rf"{tex(x)} = \pm\sqrt{{{tex(value)}}}"
    if tex(root) != rf"\sqrt{{{tex(value)}}}":
        latex += rf" = \pm {tex(root)}"
    steps.append(Step(say("square_root_both", language), latex, f"{x} = ±{plain(root)}"))
    text, roots_latex = roots_text(x, [-root, root])
    steps.append(Step(say("solutions", language), roots_latex, text))
    return steps


def ordered_factors(expr: sympy.Expr, x: sympy.Symbol) -> tuple[sympy.Expr, list[tuple[sympy.Expr, int]]]:
    """The factorisation of ``expr``: its constant and its factors by their smallest real root."""
    coefficient, factors = sympy.factor_list(expr, x)

    def smallest_root(item: tuple[sympy.Expr, int]) -> float:
        found = [float(r) for r in sympy.roots(sympy.Poly(item[0], x)) if r.is_real]
        return min(found) if found else math.inf

    return coefficient, sorted(((f, int(m)) for f, m in factors), key=smallest_root)


def factored_latex(coefficient: sympy.Expr, factors: list[tuple[sympy.Expr, int]]) -> tuple[str, str]:
    if coefficient == 1 and len(factors) == 1 and factors[0][1] == 1:
        return tex(factors[0][0]), plain(factors[0][0])
    latex_parts, plain_parts = [], []
    for factor, multiplicity in factors:
        bare = factor.is_Symbol
        latex = tex(factor) if bare else rf"\left({tex(factor)}\right)"
        text = plain(factor) if bare else f"({plain(factor)})"
        if multiplicity > 1:
            latex, text = latex + f"^{{{multiplicity}}}", text + f"^{multiplicity}"
        latex_parts.append(latex)
        plain_parts.append(text)
    latex, text = " ".join(latex_parts), "".join(plain_parts)
    if coefficient == -1:
        return "-" + latex, "-" + text
    if coefficient != 1:
        return f"{tex(coefficient)} {latex}", f"{plain(coefficient)}{text}"
    return latex, text


def _zero_product_steps(coefficient: sympy.Expr, factors: list[tuple[sympy.Expr, int]], x: sympy.Symbol,
                        roots: list[sympy.Expr], language: str) -> list[Step]:
    """The factors set to zero one by one, then the roots, in the same (ascending) order."""
    latex = r",\quad ".join(f"{tex(factor)} = 0" for factor, _ in factors)
    text = ", ".join(f"{plain(factor)} = 0" for factor, _ in factors)
    steps = [Step(say("zero_product", language), latex, text)]
    if roots:
        roots_plain, roots_latex = roots_text(x, roots)
        steps.append(Step(say("each_root", language), roots_latex, roots_plain))
    return steps


def _common_x_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str, compact: bool,
                    roots: list[sympy.Expr]) -> list[Step]:
    moved = sympy.expand(left - right)
    steps = to_zero_steps(left, right, x, language, compact)
    coefficient, factors = ordered_factors(moved, x)
    latex, text = factored_latex(coefficient, factors)
    steps.append(Step(say("common_x", language, var=x.name), f"{latex} = 0", f"{text} = 0"))
    return steps + _zero_product_steps(coefficient, factors, x, roots, language)


def two_numbers_step(b: sympy.Expr, c: sympy.Expr, first: sympy.Expr, second: sympy.Expr,
                     language: str) -> Step:
    """"We need two numbers with product c and sum b: m and n", with the arithmetic that shows it."""
    words = say("two_numbers", language, p=spoken(c, language), s=spoken(b, language),
                m=spoken(first, language), n=spoken(second, language))
    latex = (rf"{wrapped(first)} \cdot {wrapped(second)} = {tex(c)},\quad "
             rf"{wrapped(first)} + {wrapped(second)} = {tex(b)}")
    text = (f"{wrapped_plain(first)} · {wrapped_plain(second)} = {plain(c)}, "
            f"{wrapped_plain(first)} + {wrapped_plain(second)} = {plain(b)}")
    return Step(words, latex, text)


def _two_numbers_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str, compact: bool,
                       roots: list[sympy.Expr]) -> list[Step]:
    """x² + bx + c with whole roots r₁ ≤ r₂: the numbers -r₁, -r₂ multiply to c and add to b."""
    moved = sympy.expand(left - right)
    b, c = moved.coeff(x, 1), moved.coeff(x, 0)
    low, high = roots[0], roots[-1]
    steps = to_zero_steps(left, right, x, language, compact)
    steps.append(two_numbers_step(b, c, -low, -high, language))
    factors = [(x - low, 2)] if low == high else [(x - low, 1), (x - high, 1)]
    latex, text = factored_latex(S.One, factors)
    steps.append(Step(say("factors_from_numbers", language), f"{latex} = 0", f"{text} = 0"))
    return steps + _zero_product_steps(S.One, factors, x, roots, language)


def _formula_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str, compact: bool,
                   roots: list[sympy.Expr]) -> list[Step]:
    moved = sympy.expand(left - right)
    a, b, c = sympy.Poly(moved, x).all_coeffs()
    steps = to_zero_steps(left, right, x, language, compact)
    steps.append(Step(say("coefficients", language), rf"a = {tex(a)},\quad b = {tex(b)},\quad c = {tex(c)}",
                      f"a = {plain(a)}, b = {plain(b)}, c = {plain(c)}"))
    discriminant = b**2 - 4 * a * c
    steps.append(Step(say("discriminant", language),
                      rf"D = b^2 - 4ac = {power_base(b)}^2 - 4 \cdot {wrapped(a)} \cdot {wrapped(c)} = "
                      f"{tex(discriminant)}",
                      f"D = b^2 - 4ac = {plain(discriminant)}"))
    if discriminant < 0:
        steps.append(Step(say("no_real_roots", language), f"D = {tex(discriminant)} < 0",
                          f"D = {plain(discriminant)} < 0"))
        return steps
    x_tex = tex(x)
    if discriminant == 0:
        steps.append(Step(say("double_root", language),
                          rf"{x_tex} = -\frac{{b}}{{2a}} = \frac{{{tex(-b)}}}{{{tex(2 * a)}}} = {tex(roots[0])}",
                          f"{x} = -b/(2a) = {plain(roots[0])}"))
        return steps
    root_d = sympy.sqrt(discriminant)
    formula = (rf"{x_tex} = \frac{{-b \pm \sqrt{{D}}}}{{2a}} = "
               rf"\frac{{{tex(-b)} \pm \sqrt{{{tex(discriminant)}}}}}{{{tex(2 * a)}}}")
    if tex(root_d) != rf"\sqrt{{{tex(discriminant)}}}":
        formula += rf" = \frac{{{tex(-b)} \pm {tex(root_d)}}}{{{tex(2 * a)}}}"
    steps.append(Step(say("formula_two", language), formula,
                      f"{x} = ({plain(-b)} ± √{plain(discriminant)}) / {plain(2 * a)}"))
    pairs = sorted((((-b - root_d) / (2 * a), "-"), ((-b + root_d) / (2 * a), "+")),
                   key=lambda pair: float(pair[0]))
    latex_parts, plain_parts = [], []
    for index, ((_, sign), root) in enumerate(zip(pairs, roots, strict=True), 1):
        latex_parts.append(rf"{x_tex}_{{{index}}} = \frac{{{tex(-b)} {sign} {tex(root_d)}}}{{{tex(2 * a)}}} = "
                           f"{tex(root)}")
        plain_parts.append(f"{x} = {plain(root)}")
    steps.append(Step(say("both_signs", language), r",\quad ".join(latex_parts), ", ".join(plain_parts)))
    return steps


def _vieta_step(a: sympy.Expr, b: sympy.Expr, c: sympy.Expr, roots: list[sympy.Expr], language: str) -> Step | None:
    total = sympy.simplify(roots[0] + roots[1])
    product = sympy.simplify(sympy.expand(roots[0] * roots[1]))
    if sympy.simplify(total + b / a) != 0 or sympy.simplify(product - c / a) != 0:
        return None
    latex = (rf"x_1 + x_2 = {tex(total)} = -\frac{{b}}{{a}},\quad "
             rf"x_1 x_2 = {tex(product)} = \frac{{c}}{{a}}{CHECK}")
    return Step(say("check_vieta", language), latex, f"x1 + x2 = {plain(total)}, x1·x2 = {plain(product)} ✓")


def _quadratic(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked:
    language = request.language
    moved = sympy.expand(left - right)
    steps, roots = quadratic_steps(left, right, x, language)
    if roots:
        text, latex = roots_text(x, roots)
        if any(not root.is_Rational for root in roots):
            latex += r"\quad (" + r",\ ".join(rf"\approx {approx(root, 3)}" for root in roots) + ")"
    else:
        # The formula path shows D < 0; x² = negative needs no discriminant.
        text, latex = say("no_real_solution", language), r"D < 0" if moved.coeff(x, 1) != 0 else r"\varnothing"
    reference = ReferenceAnswer("quadratic_equation", text, "roots", (x,), values=tuple(roots),
                                solution_set=sympy.FiniteSet(*roots), special="" if roots else "none")
    caption = say("roots_on_graph" if roots else "no_roots_on_graph", language)
    figure = _polynomial_figure(moved, x, roots, caption)
    return Worked("quadratic_equation", say("title.quadratic_equation", language),
                  relation_latex((left, right), ("=",)), tuple(fit_steps(steps)), latex, text, reference, figure)


def _polynomial_figure(poly: sympy.Expr, x: sympy.Symbol, roots: list[sympy.Expr], caption: str) -> GraphFigure | None:
    points = plots.real_points(roots)
    critical = plots.real_points(list(sympy.solveset(sympy.diff(poly, x), x, S.Reals))
                                 if sympy.degree(poly, x) <= 4 else [])
    x_range = plots.x_window([*points, *critical, 0.0])
    function = plots.numeric(poly, x)
    y_focus = [function(p) for p in critical]
    y_range = plots.y_window([function], x_range, y_focus, core=plots.core_interval(points + critical))
    graph = plots.curve(poly, x, x_range, y_range, "BLUE", f"y = {tex(poly)}")
    if graph is None:
        return None
    markers = tuple(Marker(p, 0.0, plots.coordinate_label(p, 0.0)) for p in points)
    return GraphFigure(x_range, y_range, (graph,), markers, caption=caption)


def _side_curves(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, x_range: tuple[float, float, float],
                 y_range: tuple[float, float, float]) -> list[Curve] | None:
    """The two sides of an equation as a blue and an orange curve (None if one cannot be drawn)."""
    curves = []
    for side, color in ((left, "BLUE"), (right, "ORANGE")):
        drawn = plots.curve(side, x, x_range, y_range, color, f"y = {tex(side)}")
        if drawn is None:
            return None
        curves.append(drawn)
    return curves


def _two_sides_curves(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol,
                      roots: list[sympy.Expr], language: str) -> GraphFigure | None:
    """Both sides as graphs; the solutions are where they meet."""
    points = plots.real_points(roots)
    left_function, right_function = plots.numeric(left, x), plots.numeric(right, x)
    x_range = plots.x_window([*points, 0.0])
    meeting = [left_function(p) for p in points]
    y_range = plots.y_window([left_function, right_function], x_range, meeting)
    curves = _side_curves(left, right, x, x_range, y_range)
    if curves is None:
        return None
    markers = tuple(Marker(p, y, plots.coordinate_label(p, y)) for p, y in zip(points, meeting, strict=True)
                    if math.isfinite(y))
    return GraphFigure(x_range, y_range, tuple(curves), markers, caption=say("intersection_on_graph", language))




# -- other equations -------------------------------------------------------------------------------


def _general(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked:
    language = request.language
    try:
        solutions = sympy.solveset(sympy.Eq(left, right), x, domain=S.Reals)
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise UnsupportedProblem("The built-in solver cannot solve this equation.") from exc
    periodic = _trigonometric(request, left, right, x)
    if periodic is not None:
        return periodic
    if not isinstance(solutions, sympy.FiniteSet) and solutions != S.EmptySet:
        raise UnsupportedProblem(
            "This equation has infinitely many or no closed-form solutions; the built-in solver lists only "
            "finitely many exact ones."
        )
    roots = list(solutions) if isinstance(solutions, sympy.FiniteSet) else []
    if len(roots) > MAX_LISTED_SOLUTIONS or not all(_is_nice(root) for root in roots):
        raise UnsupportedProblem("The solutions of this equation are too complicated for the built-in solver.")
    roots = _sorted_real(roots)
    moved = sympy.expand(left - right)
    polynomial = moved.is_polynomial(x)
    steps: list[Step] | None = None
    for method in (_polynomial_steps, _rational_steps, _radical_steps, _absolute_steps, _exponential_steps,
                   _log_steps):
        try:
            steps = method(left, right, x, language, roots)
        except (sympy.PolynomialError, NotImplementedError, ValueError, TypeError, ZeroDivisionError):
            steps = None
        if steps is not None:
            break
    if steps is None:
        steps = _general_steps(left, right, x, language, roots, polynomial)
    if roots:
        text, latex = roots_text(x, roots)
    else:
        text, latex = say("no_real_solution", language), r"\varnothing"
    reference = ReferenceAnswer("equation", text, "roots", (x,), values=tuple(roots),
                                solution_set=sympy.FiniteSet(*roots), special="" if roots else "none")
    if polynomial:
        caption = say("roots_on_graph" if roots else "no_roots_on_graph", language)
        figure = _polynomial_figure(moved, x, roots, caption)
    else:
        figure = _two_sides_curves(left, right, x, roots, language)
    return Worked("equation", say("title.equation", language), relation_latex((left, right), ("=",)),
                  tuple(fit_steps(steps)), latex, text, reference, figure)


def _general_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str, roots: list[sympy.Expr],
                   polynomial: bool) -> list[Step]:
    """When no method below applies: what SymPy found, checked in the equation."""
    steps: list[Step] = []
    moved = sympy.expand(left - right)
    numerator, denominator = sympy.fraction(sympy.together(left - right))
    if denominator.has(x):
        steps.append(Step(say("numerator_zero", language),
                          rf"{tex(sympy.expand(numerator))} = 0,\quad {tex(denominator)} \neq 0",
                          f"{plain(sympy.expand(numerator))} = 0, {plain(denominator)} ≠ 0"))
    elif polynomial:
        steps += to_zero_steps(left, right, x, language, compact=True)
        factored = sympy.factor(moved)
        if factored != moved:
            steps.append(_step(say("factor_poly", language), (factored, S.Zero), ("=",)))
    if roots:
        check = check_step(left, right, x, roots, language)
        text, latex = roots_text(x, roots)
        steps.append(Step(say("solutions", language), latex, text))
        if check is not None:
            steps.append(check)
    return steps


def _polynomial_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                      roots: list[sympy.Expr]) -> list[Step] | None:
    """Degree three and up: a common x or a whole root found by trying divisors, divided out, the rest
    factored (with the two numbers for a quadratic), then each factor set to zero."""
    moved = sympy.expand(left - right)
    if not moved.is_polynomial(x):
        return None
    poly = sympy.Poly(moved, x)
    if poly.degree() < 3 or not all(coefficient.is_Integer for coefficient in poly.all_coeffs()):
        return None
    coefficient, factors = ordered_factors(moved, x)
    if len(factors) == 1 and factors[0][1] == 1:
        return None  # nothing to factor: SymPy's roots are all there is to show
    for compact in (False, True):
        steps = to_zero_steps(left, right, x, language, compact)
        reduced: sympy.Expr | None = None
        constant = moved.coeff(x, 0)
        if constant == 0:
            power = min(monomial[0] for monomial in poly.monoms())
            reduced = sympy.expand(moved / x**power)
            steps.append(Step(say("common_x", language, var=x.name),
                              rf"{tex(x**power)} \left({tex(reduced)}\right) = 0",
                              f"{plain(x**power)}({plain(reduced)}) = 0"))
        else:
            whole = sorted((r for r in roots if r.is_Integer), key=lambda r: (abs(r), r))
            words = spoken(abs(constant), language)
            if whole and words is not None:
                root = whole[0]
                shown, shown_plain = substituted(moved, {x: root})
                steps.append(Step(say("rational_root", language, c=words, var=x.name, r=spoken(root, language)),
                                  f"{shown} = 0", f"{shown_plain} = 0"))
                reduced = sympy.quo(poly, sympy.Poly(x - root, x)).as_expr()
                steps.append(Step(say("divide_out", language),
                                  rf"\left({tex(x - root)}\right) \left({tex(reduced)}\right) = 0",
                                  f"({plain(x - root)})({plain(reduced)}) = 0"))
        final_key = "factor_poly"
        if reduced is not None and reduced.is_polynomial(x) and sympy.degree(reduced, x) == 2:
            a, b, c = sympy.Poly(reduced, x).all_coeffs()
            inner = _real_roots(reduced, x)
            if (a == 1 and b != 0 and c != 0 and len(inner) >= 1 and all(r.is_Integer for r in inner)
                    and all(v.is_Integer for v in (b, c))):
                steps.append(two_numbers_step(b, c, -inner[0], -inner[-1], language))
                final_key = "factors_from_numbers"
        latex, text = factored_latex(coefficient, factors)
        if not steps or steps[-1].latex != f"{latex} = 0":
            steps.append(Step(say(final_key, language), f"{latex} = 0", f"{text} = 0"))
        steps += _zero_product_steps(coefficient, factors, x, roots, language)
        if len(steps) <= MAX_STEPS:
            return steps
    return None


def _solve_polynomial(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                      budget: int) -> tuple[list[Step], list[sympy.Expr]] | None:
    """Steps and real roots of a polynomial equation of degree one or two."""
    moved = sympy.expand(left - right)
    if moved == 0 or not moved.is_polynomial(x):
        return None
    degree = sympy.degree(moved, x)
    if degree == 1:
        root = sympy.solve(moved, x)[0]
        return linear_steps(left, "=", right, x, language, budget=budget), [root]
    if degree == 2:
        return quadratic_steps(left, right, x, language, budget=budget, check=False)
    return None


def _rational_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                    roots: list[sympy.Expr]) -> list[Step] | None:
    """Fractions: multiply both sides by the denominator (which may not be zero), solve, drop what it forbids."""
    denominators = [sympy.fraction(sympy.together(side))[1] for side in (left, right)]
    denominator = sympy.factor(sympy.lcm(denominators[0], denominators[1]))
    if not denominator.has(x) or not denominator.is_polynomial(x):
        return None
    cleared = []
    for side, own in zip((left, right), denominators, strict=True):
        if own.has(x):
            cleared.append(sympy.cancel(side * denominator))
        elif side in (0, 1):
            cleared.append(side * denominator)
        else:
            cleared.append(sympy.Mul(side, denominator, evaluate=False))
    if not all(sympy.expand(side).is_polynomial(x) for side in cleared):
        return None
    forbidden_set = sympy.solveset(denominator, x, S.Reals)
    forbidden = _sorted_real(list(forbidden_set)) if isinstance(forbidden_set, sympy.FiniteSet) else []
    latex = relation_latex((cleared[0], cleared[1]), ("=",))
    text = relation_plain((cleared[0], cleared[1]), ("=",))
    if forbidden:
        latex += r",\quad " + r",\ ".join(rf"{tex(x)} \neq {tex(value)}" for value in forbidden)
        text += ", " + ", ".join(f"{x} ≠ {plain(value)}" for value in forbidden)
    steps = [Step(say("clear_denominator", language), latex, text)]
    solved = _solve_polynomial(cleared[0], cleared[1], x, language, budget=MAX_STEPS - 1)
    if solved is None:
        return None
    inner, candidates = solved
    steps += inner
    kept = [value for value in candidates if all(sympy.simplify(value - bad) != 0 for bad in forbidden)]
    dropped = [value for value in candidates if value not in kept]
    if sympy.FiniteSet(*kept) != sympy.FiniteSet(*roots):
        return None
    if dropped:
        lines, texts = [], []
        for value in dropped:
            shown, shown_plain = substituted(denominator, {x: value})
            lines.append(rf"{tex(x)} = {tex(value)}:\ {shown} = 0")
            texts.append(f"{x} = {plain(value)}: {shown_plain} = 0")
        steps.append(Step(say("excluded", language), r",\quad ".join(lines), ", ".join(texts)))
    check = check_step(left, right, x, kept, language)
    if check is not None and len(steps) < MAX_STEPS:
        steps.append(check)
    return fit_steps(steps)


def _radical_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                   roots: list[sympy.Expr]) -> list[Step] | None:
    """√A = B: square both sides, solve, and check each candidate (squaring can add false roots)."""
    for radical, other, radical_left in ((left, right, True), (right, left, False)):
        if not (radical.is_Pow and radical.exp == S.Half and radical.base.has(x)):
            continue
        if not sympy.expand(other).is_polynomial(x):
            return None
        inner, squared = radical.base, sympy.expand(other**2)
        sides = (inner, squared) if radical_left else (squared, inner)
        steps = [_step(say("square_both", language), sides, ("=",))]
        solved = _solve_polynomial(sides[0], sides[1], x, language, budget=MAX_STEPS - 2)
        if solved is None:
            return None
        inner_steps, candidates = solved
        steps += inner_steps
        lines, texts, kept = [], [], []
        for value in candidates:
            latex, text, agree = _check_line(left, right, {x: value})
            if len(candidates) > 1:
                latex, text = rf"{tex(x)} = {tex(value)}:\ {latex}", f"{x} = {plain(value)}: {text}"
            lines.append(latex)
            texts.append(text)
            if agree:
                kept.append(value)
        if sympy.FiniteSet(*kept) != sympy.FiniteSet(*roots):
            return None
        steps.append(Step(say("check_squared", language), r" \\ ".join(lines), "; ".join(texts)))
        return steps
    return None


def _absolute_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                    roots: list[sympy.Expr]) -> list[Step] | None:
    """|A| = c with c a number: the inside is c or -c (no solution for c < 0), each case solved,
    then each root checked."""
    for absolute, other in ((left, right), (right, left)):
        if not (isinstance(absolute, sympy.Abs) and absolute.args[0].has(x)):
            continue
        if other.has(x) or not other.is_number or not other.is_real:
            return None
        inside = absolute.args[0]
        if other.is_negative:
            return [Step(say("abs_negative", language), rf"{tex(absolute)} \geq 0 > {tex(other)}",
                         f"{plain(absolute)} ≥ 0 > {plain(other)}")] if not roots else None
        cases = [other] if other == 0 else [other, -other]
        spoken_value = spoken(other, language)
        if spoken_value is None:
            return None
        steps = [Step(say("abs_zero" if other == 0 else "abs_cases", language, c=spoken_value),
                      r",\quad ".join(f"{tex(inside)} = {tex(case)}" for case in cases),
                      ", ".join(f"{plain(inside)} = {plain(case)}" for case in cases))]
        lines, texts, found = [], [], []
        for case in cases:
            solutions = _sorted_real(list(sympy.solveset(sympy.Eq(inside, case), x, domain=S.Reals)))
            if not solutions or len(solutions) > 2:
                continue
            listed = r",\ ".join(f"{tex(x)} = {tex(value)}" for value in solutions)
            lines.append(rf"{tex(inside)} = {tex(case)}\ \Rightarrow\ {listed}")
            texts.append(f"{plain(inside)} = {plain(case)} → " + ", ".join(f"{x} = {plain(v)}" for v in solutions))
            found += solutions
        if sympy.FiniteSet(*found) != sympy.FiniteSet(*roots):
            return None
        if inside != x:
            steps.append(Step(say("each_root", language), r" \\ ".join(lines), "; ".join(texts)))
        check = check_step(left, right, x, roots, language)
        if check is not None:
            steps.append(check)
        return steps
    return None


def _exponential_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
                       roots: list[sympy.Expr]) -> list[Step] | None:
    """b^f(x) = N with N a power of b: write N as b^k, then f(x) = k."""
    for power, other, power_left in ((left, right, True), (right, left, False)):
        base, power_exp = (sympy.E, power.args[0]) if isinstance(power, sympy.exp) else \
            (power.base, power.exp) if power.is_Pow else (None, None)
        if base is None or power_exp is None or not base.is_number or not power_exp.has(x):
            continue
        if other.has(x) or not other.is_number or not other.is_positive or not base.is_positive or base == 1:
            return None
        exponent = sympy.simplify(sympy.log(other) / sympy.log(base))
        words = spoken(base, language) or ("e" if base == sympy.E else None)
        if exponent.is_Rational and words is not None:
            rewritten = rf"{power_base(base)}^{{{tex(exponent)}}}"
            rewritten_plain = f"{plain(base)}^{wrapped_plain(exponent)}"
            latex = f"{tex(power)} = {rewritten}" if power_left else f"{rewritten} = {tex(power)}"
            text = f"{plain(power)} = {rewritten_plain}" if power_left else f"{rewritten_plain} = {plain(power)}"
            steps = [Step(say("same_base", language, b=words), latex, text)]
            steps.append(_step(say("equal_exponents", language), (power_exp, exponent), ("=",)))
        elif _is_nice(exponent):
            steps = [_step(say("take_log", language), (power_exp, exponent), ("=",))]
        else:
            return None
        inner = power_exp
        if inner != x:
            if not inner.is_polynomial(x) or sympy.degree(inner, x) != 1:
                return None
            steps += linear_steps(inner, "=", exponent, x, language, budget=MAX_STEPS - 3)
        if sympy.FiniteSet(sympy.solve(sympy.Eq(inner, exponent), x)[0]) != sympy.FiniteSet(*roots):
            return None
        check = check_step(left, right, x, roots, language)
        if check is not None:
            steps.append(check)
        return steps
    return None


def _log_steps(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol, language: str,
               roots: list[sympy.Expr]) -> list[Step] | None:
    """ln A = c: raise e to both sides (A = e^c, and A must be positive), then solve A = e^c."""
    for logarithm, other, log_left in ((left, right, True), (right, left, False)):
        if not (isinstance(logarithm, sympy.log) and logarithm.args[0].has(x)):
            continue
        if other.has(x) or not other.is_number:
            return None
        inner, value = logarithm.args[0], sympy.exp(other)
        sides = (inner, value) if log_left else (value, inner)
        steps = [_step(say("undo_log", language), sides, ("=",))]
        solved = _solve_polynomial(sides[0], sides[1], x, language, budget=MAX_STEPS - 2)
        if solved is None:
            return None
        inner_steps, candidates = solved
        kept = [c for c in candidates if sympy.simplify(inner.subs(x, c)).is_positive]
        if sympy.FiniteSet(*kept) != sympy.FiniteSet(*roots):
            return None
        return steps + inner_steps
    return None


# -- sin x = a, cos x = a, tan x = a ----------------------------------------------------------------

_PERIODIC = {sympy.sin: ("sin", 2 * sympy.pi), sympy.cos: ("cos", 2 * sympy.pi), sympy.tan: ("tan", sympy.pi)}


def _trigonometric(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked | None:
    """a·sin(kx + c) = d (or cos, tan) with d/a a value from the table (0, ±1/2, ±√2/2, ±√3/2,
    ±1, ±√3, ±√3/3): divide by a, the angles in one turn (half a turn for tan), the period
    added, then solved for x. The answer is a family of solutions, so there is no SymPy
    reference to check a model against."""
    language = request.language
    side, value = (left, right) if not right.has(x) else (right, left)
    coefficient, function = side.as_coeff_Mul()
    if value.has(x) or type(function) not in _PERIODIC or not coefficient.is_Rational:
        return None
    argument = function.args[0]
    if not argument.is_polynomial(x) or sympy.degree(argument, x) != 1:
        return None
    slope, shift = sympy.Poly(argument, x).all_coeffs()
    if not slope.is_Rational or shift != 0:
        # A shift is rewritten by SymPy as it parses (sin(x - π/4) becomes -cos(x + π/4)): the
        # video would show another equation than the one asked.
        return None
    name, period = _PERIODIC[type(function)]
    value = sympy.nsimplify(value)
    steps: list[Step] = []
    if coefficient != 1:
        words = spoken(coefficient, language)
        if words is None:
            return None
        value = sympy.nsimplify(value / coefficient)
        steps.append(Step(say("divide", language, a=words, var=plain(function)),
                          f"{tex(function)} = {tex(value)}", f"{plain(function)} = {plain(value)}"))
    problem = relation_latex((left, right), ("=",))
    if name != "tan" and abs(value) > 1:
        steps.append(Step(say(f"trig_out_of_range.{name}", language),
                          rf"-1 \le {tex(function)} \le 1,\quad {tex(value)} \notin [-1, 1]",
                          f"-1 ≤ {plain(function)} ≤ 1"))
        return Worked("equation", say("title.equation", language), problem, tuple(steps), r"\varnothing",
                      say("no_real_solution", language), None)
    principal = {"sin": sympy.asin, "cos": sympy.acos, "tan": sympy.atan}[name](value)
    if principal.has(sympy.asin, sympy.acos, sympy.atan):
        return None  # not a value from the table
    if name == "sin":
        first_turn = _sorted_real(list({principal, sympy.pi - principal}))
    elif name == "cos":
        first_turn = _sorted_real(list({principal, -principal}))
    else:
        first_turn = [principal]
    # sin x = 0 has its solutions every π, not every 2π: one family says it more simply.
    step_size = period
    if name != "tan" and len(first_turn) == 2 and sympy.simplify(first_turn[1] - first_turn[0] - sympy.pi) == 0:
        # The smallest angle that is not negative: x = πk for sin x = 0, x = π/2 + πk for cos x = 0.
        first_turn, step_size = [min(first_turn, key=lambda a: (bool(a < 0), abs(float(a))))], sympy.pi
    period_words = say("trig_period_pi" if step_size == sympy.pi else "trig_period_2pi", language)
    integers = r",\quad k \in \mathbb{Z}"
    angles_latex = r",\quad ".join(f"{tex(argument)} = {tex(angle)}" for angle in first_turn)
    steps.append(Step(say(f"trig_angles.{name}", language),
                      rf"{tex(function)} = {tex(value)}\ \Rightarrow\ {angles_latex}",
                      ", ".join(f"{plain(argument)} = {plain(angle)}" for angle in first_turn)))
    family_latex, family_plain = solution_families(argument, first_turn, step_size, name)
    steps.append(Step(period_words, family_latex + integers, family_plain))
    # Solved for x: each angle moved and divided like a linear equation; the period divided too.
    solutions = [sympy.nsimplify((angle - shift) / slope) for angle in first_turn]
    family_latex, family_plain = solution_families(x, solutions, abs(step_size / slope), name)
    if argument != x:
        words = spoken(slope, language) if slope.is_Integer else None
        steps.append(Step(say("divide", language, a=words, var=x.name) if words else say("each_root", language),
                          family_latex + integers, family_plain))
    check_lines = [rf"{tex(type(function)(argument.subs(x, solution), evaluate=False))} = {tex(value)}{CHECK}"
                   for solution in solutions]
    steps.append(Step(say("check_each" if len(solutions) > 1 else "check_back", language),
                      r",\quad ".join(check_lines), ""))
    figure = _periodic_figure(side, sympy.nsimplify(value * coefficient), x, solutions, language)
    text = f"{family_plain} ({say('k_integer', language)})"
    return Worked("equation", say("title.equation", language), problem, tuple(fit_steps(steps)),
                  family_latex + integers, text, None, figure)


def family_members(angles: list[sympy.Expr], step_size: sympy.Expr, name: str) -> list[tuple[str, str]]:
    """(LaTeX, plain) of each family's right-hand side: "π/6 + 2πk", "πk"; a cosine's two
    angles ±α as one, "±π/3 + 2πk"."""
    step_latex = tex(step_size * sympy.Symbol("k"))  # 2πk, \frac{\pi k}{2}
    numerator, denominator = sympy.fraction(step_size)
    step_plain = ("k" if numerator == 1 else f"{plain(numerator)}k") + ("" if denominator == 1 else f"/{denominator}")
    if name == "cos" and len(angles) == 2 and sympy.simplify(angles[0] + angles[1]) == 0:
        shown = [(rf"\pm {tex(angles[1])}", f"±{plain(angles[1])}")]
    else:
        shown = [(tex(angle), plain(angle)) for angle in angles]
    return [(step_latex, step_plain) if angle_latex == "0" else (f"{angle_latex} + {step_latex}",
                                                                 f"{angle_plain} + {step_plain}")
            for angle_latex, angle_plain in shown]


def solution_families(variable: sympy.Expr, angles: list[sympy.Expr], step_size: sympy.Expr,
                      name: str) -> tuple[str, str]:
    """(LaTeX, plain) of "x = π/6 + 2πk, x = 5π/6 + 2πk"; a cosine's two as "x = ±π/3 + 2πk"."""
    members = family_members(angles, step_size, name)
    return (r",\quad ".join(f"{tex(variable)} = {latex}" for latex, _ in members),
            ", ".join(f"{plain(variable)} = {text}" for _, text in members))


def _periodic_figure(function: sympy.Expr, value: sympy.Expr, x: sympy.Symbol, angles: list[sympy.Expr],
                     language: str) -> GraphFigure | None:
    """The function over one and a half turns and the line y = value; the angles found in the first turn
    marked with their exact values (π/6, not 0.52), as the narration says."""
    x_range, tick_labels = plots.angle_axis(2 * sympy.pi)
    level = float(value)
    # Whole-number ticks: a tick label at ±0.5 sits where sin and cos pass.
    y_range = plots.nice_range(min(-2.0, level - 1), max(2.0, level + 1)) if isinstance(function, sympy.tan) \
        else (-2.0, 2.0, 1.0)
    curves = _side_curves(function, value, x, x_range, y_range)
    if curves is None:
        return None
    # 2π/3 on one line: a stacked fraction is too tall to find room beside a steep curve.
    markers = tuple(Marker(float(angle), level, sympy.latex(angle, fold_short_frac=True)) for angle in angles)
    return GraphFigure(x_range, y_range, tuple(curves), markers, caption=say("intersection_on_graph", language),
                       x_tick_labels=tick_labels)


# -- systems -----------------------------------------------------------------------------------


def solve_system(request: Request) -> Worked:
    language = request.language
    relations = request.relations
    differences = [r.sides[0] - r.sides[1] for r in relations]
    variables = sorted(set().union(*(d.free_symbols for d in differences)), key=lambda s: s.name)
    u, v = variables
    for difference in differences:
        if not difference.is_polynomial(u, v) or sympy.Poly(difference, u, v).total_degree() > 1:
            raise UnsupportedProblem("The built-in solver solves linear systems only.")
    problem = (r"\begin{cases} " + r" \\ ".join(relation_latex(r.sides, r.signs) for r in relations)
               + r" \end{cases}")
    matrix = sympy.Matrix([[sympy.expand(d).coeff(u), sympy.expand(d).coeff(v)] for d in differences])
    steps: list[Step] = []
    title = say("title.linear_system", language)
    figure = _system_figure(relations, u, v, None, language)
    if matrix.det() == 0:
        consistent = sympy.solve([sympy.Eq(*r.sides) for r in relations], [u, v], dict=True)
        if consistent:
            steps.append(Step(say("same_line", language)))
            text = say("infinite", language)
            reference = ReferenceAnswer("linear_system", text, "assignment", (u, v), special="all")
            return Worked("linear_system", title, problem, tuple(steps), "", text, reference, figure)
        steps.append(Step(say("parallel", language)))
        text = say("no_solution", language)
        reference = ReferenceAnswer("linear_system", text, "assignment", (u, v), special="none")
        return Worked("linear_system", title, problem, tuple(steps), r"\varnothing", text, reference, figure)
    solution = sympy.solve([sympy.Eq(*r.sides) for r in relations], [u, v], dict=True)[0]
    values = {u: solution[u], v: solution[v]}
    worked = _elimination_steps(relations, u, v, language) or _substitution_steps(relations, matrix, u, v, language)
    steps += worked
    check = _system_check(relations, values, language)
    if check is not None:
        steps.append(check)
    text = f"{u} = {plain(values[u])}, {v} = {plain(values[v])}"
    latex = rf"{tex(u)} = {tex(values[u])},\quad {tex(v)} = {tex(values[v])}"
    reference = ReferenceAnswer("linear_system", text, "assignment", (u, v), values=(values[u], values[v]))
    figure = _system_figure(relations, u, v, (values[u], values[v]), language)
    return Worked("linear_system", title, problem, tuple(fit_steps(steps)), latex, text, reference, figure)


def _standard(relation: ParsedRelation, u: sympy.Symbol, v: sympy.Symbol) -> bool:
    """Written as a·u + b·v = number."""
    left, right = relation.sides
    return (not right.free_symbols and right.is_number and sympy.expand(left) == left
            and left.subs({u: 0, v: 0}) == 0)


def _elimination_steps(relations: tuple[ParsedRelation, ...], u: sympy.Symbol, v: sympy.Symbol,
                       language: str) -> list[Step] | None:
    """Both equations as a·x + b·y = c with one variable's coefficients equal or opposite: add or subtract."""
    if not all(_standard(relation, u, v) for relation in relations):
        return None
    (left_1, right_1), (left_2, right_2) = (relation.sides for relation in relations)
    # Opposite coefficients (add) before equal ones (subtract).
    for operation, gone, kept in (("+", u, v), ("+", v, u), ("-", u, v), ("-", v, u)):
        first, second = left_1.coeff(gone), left_2.coeff(gone)
        if first == 0 or first != (-second if operation == "+" else second):
            continue
        combined_left = sympy.expand(left_1 + left_2 if operation == "+" else left_1 - left_2)
        combined_right = right_1 + right_2 if operation == "+" else right_1 - right_2
        if combined_left.coeff(kept) == 0:
            continue
        steps = [Step(say("add_equations" if operation == "+" else "subtract_equations", language, var=gone.name),
                      rf"\left({tex(left_1)}\right) {operation} \left({tex(left_2)}\right) = "
                      rf"{wrapped(right_1)} {operation} {wrapped(right_2)}",
                      f"({plain(left_1)}) {operation} ({plain(left_2)}) = {wrapped_plain(right_1)} {operation} "
                      f"{wrapped_plain(right_2)}")]
        steps.append(_step(say("simplify_sides", language), (combined_left, combined_right), ("=",)))
        coefficient = combined_left.coeff(kept)
        value = combined_right / coefficient
        if coefficient != 1:
            steps += _isolate_steps(coefficient, combined_right, "=", kept, language, kept.name, show=False)
        shown, shown_plain = substituted(left_1, {kept: value})
        steps.append(Step(say("put_into", language, n=1), f"{shown} = {tex(right_1)}",
                          f"{shown_plain} = {plain(right_1)}"))
        steps += linear_steps(left_1.subs(kept, value), "=", right_1, gone, language, budget=2)
        return steps
    return None


def _substitution_steps(relations: tuple[ParsedRelation, ...], matrix: sympy.Matrix, u: sympy.Symbol,
                        v: sympy.Symbol, language: str) -> list[Step]:
    """One variable from one equation (one already alone, or with coefficient ±1 if there is one), put
    into the other equation, solved, and put back."""
    steps: list[Step] = []
    given = [(i, side) for i, relation in enumerate(relations) for side in relation.sides[:1]
             if side in (u, v) and not relation.sides[1].has(side)]
    if given:
        row, isolated = given[0]
        isolated = isolated if isinstance(isolated, sympy.Symbol) else u
    else:
        candidates = [(abs(matrix[i, j]) != 1, i, j) for i in range(2) for j in range(2) if matrix[i, j] != 0]
        _, row, column = min(candidates)
        isolated = u if column == 0 else v
    other = v if isolated == u else u
    expression = sympy.solve(sympy.Eq(*relations[row].sides), isolated)[0]
    if not given:
        steps.append(Step(say("from_equation", language, n=row + 1, var=isolated.name),
                          f"{tex(isolated)} = {tex(expression)}", f"{isolated} = {plain(expression)}"))
    second = relations[1 - row]
    put = [substituted(side, {isolated: expression}) if side.has(isolated) else (tex(side), plain(side))
           for side in second.sides]
    steps.append(Step(say("substitute", language), f"{put[0][0]} = {put[1][0]}", f"{put[0][1]} = {put[1][1]}"))
    sides = (sympy.expand(second.sides[0].subs(isolated, expression)),
             sympy.expand(second.sides[1].subs(isolated, expression)))
    steps.append(_step(say("expand_collect", language), sides, ("=",)))
    steps += linear_steps(sides[0], "=", sides[1], other, language, budget=MAX_STEPS - len(steps) - 2)
    other_value = sympy.solve(sympy.Eq(*sides), other)[0]
    isolated_value = expression.subs(other, other_value)
    shown, shown_plain = substituted(expression, {other: other_value})
    steps.append(Step(say("back_substitute", language, var=isolated.name),
                      f"{tex(isolated)} = {shown} = {tex(isolated_value)}",
                      f"{isolated} = {shown_plain} = {plain(isolated_value)}"))
    return steps


def _system_check(relations: tuple[ParsedRelation, ...], values: dict[sympy.Symbol, sympy.Expr],
                  language: str) -> Step | None:
    lines, texts = [], []
    for relation in relations:
        latex, text, agree = _check_line(relation.sides[0], relation.sides[1], values)
        if not agree:
            return None
        lines.append(latex.removesuffix(CHECK))
        texts.append(text.removesuffix(" ✓"))
    return Step(say("check_system", language), r",\quad ".join(lines) + CHECK, "; ".join(texts) + " ✓")


def _system_figure(relations: tuple[ParsedRelation, ...], u: sympy.Symbol, v: sympy.Symbol,
                   solution: tuple[sympy.Expr, sympy.Expr] | None, language: str) -> GraphFigure | None:
    focus_x = [float(solution[0])] if solution else []
    focus_y = [float(solution[1])] if solution else []
    lines: list[tuple[str, sympy.Expr | None, float | None, str]] = []  # (kind, v(u), u constant, latex)
    for relation in relations:
        difference = sympy.expand(relation.sides[0] - relation.sides[1])
        label = relation_latex(relation.sides, relation.signs)
        if difference.coeff(v) != 0:
            lines.append(("graph", sympy.solve(difference, v)[0], None, label))
        else:
            constant = float(sympy.solve(difference, u)[0])
            lines.append(("vertical", None, constant, label))
            focus_x.append(constant)
    x_range = plots.x_window([*focus_x, 0.0])
    functions = [plots.numeric(line[1], u) for line in lines if line[1] is not None]
    y_range = plots.y_window(functions, x_range, focus_y)
    curves = []
    verticals = []
    for (kind, function, vertical_at, label), color in zip(lines, ("BLUE", "ORANGE"), strict=True):
        if kind == "graph" and function is not None:
            drawn = plots.curve(function, u, x_range, y_range, color, label)
            if drawn is None:
                return None
            curves.append(drawn)
        elif vertical_at is not None:
            verticals.append((vertical_at, label, color))
    markers: tuple[Marker, ...] = ()
    if solution:
        x0, y0 = float(solution[0]), float(solution[1])
        markers = (Marker(x0, y0, plots.coordinate_label(x0, y0)),)
    return GraphFigure(x_range, y_range, tuple(curves), markers, tuple(verticals),
                       caption=say("intersection_on_graph", language))


# -- inequalities ------------------------------------------------------------------------------


def solve_inequality(request: Request) -> Worked:
    language = request.language
    x = request.variable
    assert x is not None
    relation = request.relations[0]
    sides, signs = relation.sides, relation.signs
    problem = relation_latex(sides, signs)
    steps: list[Step] = []
    if len(sides) == 2:
        solution = _solve_relation(sides[0], signs[0], sides[1], x)
        moved = sympy.expand(sides[0] - sides[1])
        if moved.is_polynomial(x) and sympy.degree(moved, x) == 1:
            steps += linear_steps(sides[0], signs[0], sides[1], x, language, budget=MAX_STEPS - 1)
        else:
            steps += _sign_chart_steps(sides[0], signs[0], sides[1], x, solution, language)
    else:
        first = _solve_relation(sides[0], signs[0], sides[1], x)
        second = _solve_relation(sides[1], signs[1], sides[2], x)
        solution = sympy.Intersection(first, second)
        chained = _double_steps(sides, signs, x, language)
        if chained is not None:
            steps += chained
        else:
            steps.append(Step(say("each_part", language),
                              rf"{relation_latex(sides[:2], signs[:1])}:\ {set_latex(first, x)}\qquad "
                              rf"{relation_latex(sides[1:], signs[1:])}:\ {set_latex(second, x)}",
                              f"{set_plain(first, x, language)}; {set_plain(second, x, language)}"))
            steps.append(Step(say("both_hold", language), set_latex(solution, x),
                              set_plain(solution, x, language)))
    text = set_plain(solution, x, language)
    latex = set_latex(solution, x)
    if not steps or steps[-1].latex != latex:
        steps.append(Step(say("solutions", language), latex, text))
    special = "all" if solution == S.Reals else "none" if solution == S.EmptySet else ""
    reference = ReferenceAnswer("inequality", text, "set", (x,), solution_set=solution, special=special)
    figure = number_line_figure(solution, say("number_line", language))
    return Worked("inequality", say("title.inequality", language), problem, tuple(fit_steps(steps)), latex, text,
                  reference, figure)


def _solve_relation(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol) -> sympy.Set:
    constructors = {"<": sympy.Lt, ">": sympy.Gt, "<=": sympy.Le, ">=": sympy.Ge}
    try:
        solution = sympy.solveset(constructors[sign](left, right), x, domain=S.Reals)
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise UnsupportedProblem("The built-in solver cannot solve this inequality.") from exc
    if isinstance(solution, sympy.ConditionSet) or solution.has(sympy.ImageSet):
        raise UnsupportedProblem("The built-in solver cannot solve this inequality.")
    return solution




def _chain(sides: tuple[sympy.Expr, ...] | list[str], signs: tuple[str, ...], latex: bool = True) -> str:
    table = _SIGN_LATEX if latex else _SIGN_PLAIN
    parts = [str(sides[0])]
    for sign, side in zip(signs, sides[1:], strict=True):
        parts += [table[sign], str(side)]
    return " ".join(parts)


def _double_steps(sides: tuple[sympy.Expr, ...], signs: tuple[str, ...], x: sympy.Symbol,
                  language: str) -> list[Step] | None:
    """low < a·x + b <= high: the same operation on all three parts."""
    low, middle, high = sides
    if low.has(x) or high.has(x) or not low.is_number or not high.is_number:
        return None
    expanded = sympy.expand(middle)
    if not expanded.is_polynomial(x) or sympy.degree(expanded, x) != 1:
        return None
    steps: list[Step] = []
    if expanded != middle:
        steps.append(_step(say("expand_both", language), (low, expanded, high), signs))
    coefficient, constant = expanded.coeff(x, 1), expanded.coeff(x, 0)
    current = [low, expanded, high]
    if constant != 0:
        words = spoken(abs(constant), language)
        key = "all_parts_subtract" if constant > 0 else "all_parts_add"
        phrase = say(key, language, a=words) if words is not None else say("collect", language, var=x.name)
        shown = [_with_added(part, [-constant]) for part in current]
        steps.append(Step(phrase, _chain([s[0] for s in shown], signs), _chain([s[1] for s in shown], signs, False)))
        current = [sympy.expand(part - constant) for part in current]
        steps.append(_step(say("simplify_sides", language), tuple(current), signs))
    if coefficient != 1:
        words = spoken(coefficient, language)
        new_signs = tuple(_FLIPPED[sign] for sign in signs) if coefficient < 0 else signs
        phrase = (say("all_parts_divide", language, a=words) if words is not None
                  else say("divide_coefficient", language, var=x.name))
        if coefficient < 0:
            phrase += ". " + say("flip", language)
        shown_latex = [rf"\frac{{{tex(part)}}}{{{tex(coefficient)}}}" for part in current]
        shown_plain = [f"{wrapped_plain(part)}/{wrapped_plain(coefficient)}" for part in current]
        steps.append(Step(phrase, _chain(shown_latex, new_signs), _chain(shown_plain, new_signs, False)))
        current = [part / coefficient for part in current]
        steps.append(_step(say("solved", language, var=x.name), tuple(current), new_signs))
    return steps


def _sign_chart_steps(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol, solution: sympy.Set,
                      language: str) -> list[Step]:
    """Factor, find the zeros (of the top and the bottom), test a point in each interval, keep the right ones."""
    moved = sympy.factor(sympy.together(left - right))
    steps = []
    combined = sympy.together(left - right)
    if right != 0 and combined != left:
        steps.append(_step(say("move_all", language), (sympy.expand(combined) if not sympy.fraction(combined)[1].has(x)
                                                       else combined, S.Zero), (sign,)))
    numerator, denominator = sympy.fraction(moved)
    shown = [factored_latex(*ordered_factors(part, x)) if part.has(x) else (tex(part), plain(part))
             for part in (numerator, denominator)]
    if denominator.has(x):
        chart_latex = rf"\frac{{{shown[0][0]}}}{{{shown[1][0]}}}"
        chart_plain = f"({shown[0][1]})/({shown[1][1]})"
    else:
        chart_latex, chart_plain = shown[0]
    products = [len(ordered_factors(part, x)[1]) > 1 or any(m > 1 for _, m in ordered_factors(part, x)[1])
                for part in (numerator, denominator) if part.has(x)]
    if any(products) and chart_latex != tex(left):
        steps.append(Step(say("factor_poly", language), f"{chart_latex} {_SIGN_LATEX[sign]} 0",
                          f"{chart_plain} {_SIGN_PLAIN[sign]} 0"))
    zeros = sympy.solveset(numerator, x, S.Reals)
    poles = sympy.solveset(denominator, x, S.Reals) if denominator.has(x) else S.EmptySet
    if not all(isinstance(found, sympy.FiniteSet) or found == S.EmptySet for found in (zeros, poles)):
        return steps
    top = _sorted_real([z for z in zeros if z.is_real]) if zeros != S.EmptySet else []
    bottom = _sorted_real([p for p in poles if p.is_real]) if poles != S.EmptySet else []
    critical = _sorted_real(list(set(top) | set(bottom)))
    if not critical or len(critical) > MAX_LISTED_SOLUTIONS:
        return steps

    def listed(values: list[sympy.Expr]) -> tuple[str, str]:
        return (r",\ ".join(f"{tex(x)} = {tex(value)}" for value in values),
                ", ".join(f"{x} = {plain(value)}" for value in values))

    if bottom:
        parts = [(numerator, top), (denominator, bottom)]
        shown = [(f"{tex(part)} = 0:\\ {listed(values)[0]}", f"{plain(part)} = 0: {listed(values)[1]}")
                 if part != x else listed(values) for part, values in parts if values]
        steps.append(Step(say("zeros_fraction", language), r";\quad ".join(s[0] for s in shown),
                          "; ".join(s[1] for s in shown)))
    else:
        latex, text = listed(top)
        steps.append(Step(say("zeros", language), latex.replace(r",\ ", r",\quad "), text))
    tests = [critical[0] - 1] + [(a + b) / 2 for a, b in itertools.pairwise(critical)]
    tests.append(critical[-1] + 1)
    signs_latex, signs_plain = [], []
    for index, point in enumerate(tests):
        value = float(moved.subs(x, point))
        mark = "+" if value > 0 else "-"
        if index == 0:
            where, where_plain = f"{tex(x)} < {tex(critical[0])}", f"{x} < {plain(critical[0])}"
        elif index == len(tests) - 1:
            where, where_plain = f"{tex(x)} > {tex(critical[-1])}", f"{x} > {plain(critical[-1])}"
        else:
            a, b = critical[index - 1], critical[index]
            where, where_plain = f"{tex(a)} < {tex(x)} < {tex(b)}", f"{plain(a)} < {x} < {plain(b)}"
        signs_latex.append(rf"{where}:\ {mark}")
        signs_plain.append(f"{where_plain}: {mark}")
    steps.append(Step(say("sign", language), r",\quad ".join(signs_latex), "; ".join(signs_plain)))
    steps.append(Step(say("keep_sign", language), set_latex(solution, x), set_plain(solution, x, language)))
    return steps


def set_latex(solution: sympy.Set, x: sympy.Symbol) -> str:
    if solution == S.Reals:
        return rf"{tex(x)} \in \mathbb{{R}}"
    if solution == S.EmptySet:
        return r"\varnothing"
    pieces = _set_pieces(solution)
    if pieces is None:
        return rf"{tex(x)} \in {tex(solution)}"
    if len(pieces) == 1:
        return _piece_latex(pieces[0], x)
    # Several pieces: interval notation, which needs no words (and so no language) inside LaTeX.
    return rf"{tex(x)} \in {tex(solution)}"


def set_plain(solution: sympy.Set, x: sympy.Symbol, language: str) -> str:
    if solution == S.Reals:
        return say("all_reals", language)
    if solution == S.EmptySet:
        return say("no_solution", language)
    pieces = _set_pieces(solution)
    if pieces is None:
        return f"{x} ∈ {solution}"
    return f" {say('or', language)} ".join(_piece_plain(piece, x) for piece in pieces)


def _set_pieces(solution: sympy.Set) -> list[sympy.Set] | None:
    pieces = list(solution.args) if isinstance(solution, sympy.Union) else [solution]
    flat: list[sympy.Set] = []
    for piece in pieces:
        if isinstance(piece, sympy.FiniteSet):
            flat += [sympy.FiniteSet(p) for p in piece]
        elif isinstance(piece, sympy.Interval):
            flat.append(piece)
        else:
            return None
    return sorted(flat, key=lambda p: float(p.inf) if p.inf.is_finite else -math.inf)


def _piece_plain(piece: sympy.Set, x: sympy.Symbol) -> str:
    if isinstance(piece, sympy.FiniteSet):
        return f"{x} = {plain(next(iter(piece)))}"
    assert isinstance(piece, sympy.Interval)
    low, high = piece.start, piece.end
    low_sign = "<" if piece.left_open else "≤"
    high_sign = "<" if piece.right_open else "≤"
    if low == -sympy.oo:
        return f"{x} {high_sign} {plain(high)}"
    if high == sympy.oo:
        return f"{x} {'>' if piece.left_open else '≥'} {plain(low)}"
    return f"{plain(low)} {low_sign} {x} {high_sign} {plain(high)}"


def _piece_latex(piece: sympy.Set, x: sympy.Symbol) -> str:
    if isinstance(piece, sympy.FiniteSet):
        return f"{tex(x)} = {tex(next(iter(piece)))}"
    assert isinstance(piece, sympy.Interval)
    low, high = piece.start, piece.end
    low_sign = "<" if piece.left_open else r"\le"
    high_sign = "<" if piece.right_open else r"\le"
    if low == -sympy.oo:
        return f"{tex(x)} {high_sign} {tex(high)}"
    if high == sympy.oo:
        return f"{tex(x)} {'>' if piece.left_open else chr(92) + 'ge'} {tex(low)}"
    return f"{tex(low)} {low_sign} {tex(x)} {high_sign} {tex(high)}"


def number_line_figure(solution: sympy.Set, caption: str) -> NumberLineFigure | None:
    pieces = _set_pieces(solution) if solution not in (S.Reals, S.EmptySet) else []
    if pieces is None:
        return None
    if solution == S.Reals:
        drawn: list[tuple[float | None, float | None, bool, bool]] = [(None, None, False, False)]
    else:
        drawn = []
    points: list[float] = []
    boundaries: list[float] = []
    for piece in pieces:
        if isinstance(piece, sympy.FiniteSet):
            value = float(next(iter(piece)))
            points.append(value)
            boundaries.append(value)
            continue
        assert isinstance(piece, sympy.Interval)
        low = float(piece.start) if piece.start.is_finite else None
        high = float(piece.end) if piece.end.is_finite else None
        drawn.append((low, high, not piece.left_open, not piece.right_open))
        boundaries += [b for b in (low, high) if b is not None]
    x_range = plots.x_window([*boundaries, 0.0], minimum_span=6.0)
    step = x_range[2]
    labels = tuple((b, approx(sympy.nsimplify(b), 3)) for b in boundaries
                   if abs(b / step - round(b / step)) > 1e-9)
    return NumberLineFigure(x_range, tuple(drawn), tuple(points), labels, caption)
