"""Simplify, expand and factor an expression.

Each line is the whole equation so far (``original = …``): an identity is
shown with the expression's own a and b put in, a trinomial is factored with
the two numbers (product c, sum b; for a ≠ 1 product a·c, then the middle
term split and grouped), and a fraction is factored before it is cancelled.
"""

from __future__ import annotations

import itertools

import sympy

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin.equations import power_base, two_numbers_step, wrapped, wrapped_plain
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.parse import parse_expression
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import Step, Worked, plain, tex


def _simplest(*candidates: sympy.Expr) -> sympy.Expr:
    return min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))


def _finish(kind: str, request: Request, original: sympy.Expr, result: sympy.Expr, steps: list[Step],
            comparison: str, shown: str = "") -> Worked:
    """``shown``: the problem's LaTeX when it is not ``tex(original)`` (kept as written)."""
    language = request.language
    text = plain(result)
    shown = shown or tex(original)
    latex = f"{shown} = {tex(result)}"
    if not steps or steps[-1].plain != text:
        steps.append(Step(say("result", language), latex, text))
    variables = tuple(sorted(original.free_symbols, key=lambda s: s.name))
    reference = ReferenceAnswer(kind, text, comparison, variables, expression=result)
    return Worked(kind, say(f"title.{kind}", language), shown, tuple(steps), latex, text, reference)


def solve_expand(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    result = sympy.expand(expr)
    written = _written(request.source, expr)
    start = _as_written(written) if written is not None else tex(expr)
    steps: list[Step] = []
    sums = [factor for factor in sympy.Mul.make_args(expr) if factor.is_Add]
    written_sums = [factor for factor in sympy.Mul.make_args(written) if factor.is_Add] if written is not None else []
    if len(written_sums) == len(sums) == 2:
        sums = written_sums  # multiplied out in the order the person wrote the brackets and terms
    if expr.is_Pow and expr.base.is_Add and len(expr.base.args) == 2 and expr.exp == 2:
        first, second = expr.base.as_ordered_terms()
        minus = second.could_extract_minus_sign()
        size = -second if minus else second
        sign = "-" if minus else "+"
        steps.append(Step(say("use_identity", language), rf"(a {sign} b)^2 = a^2 {sign} 2ab + b^2", ""))
        shown = (rf"{power_base(first)}^{{2}} {sign} 2 \cdot {wrapped(first)} \cdot {wrapped(size)} + "
                 rf"{power_base(size)}^{{2}}")
        shown_plain = (f"{wrapped_plain(first)}^2 {sign} 2·{wrapped_plain(first)}·{wrapped_plain(size)} + "
                       f"{wrapped_plain(size)}^2")
        steps.append(Step(say("identity_values", language), f"{start} = {shown}",
                          f"{plain(expr)} = {shown_plain}"))
        steps.append(Step(say("calculate", language), f"{start} = {tex(result)}", plain(result)))
    elif expr.is_Mul and len(sums) == 2 and all(len(s.args) <= 3 for s in sums):
        others = [factor for factor in sympy.Mul.make_args(expr) if not factor.is_Add]
        coefficient = sympy.Mul(*others)
        products = [sympy.Mul(a, b) for a, b in itertools.product(*(_terms(s, written is not None) for s in sums))]
        inner = sympy.Add(*products, evaluate=False)
        shown = inner if coefficient == 1 else sympy.Mul(coefficient, inner, evaluate=False)
        steps.append(Step(say("distribute", language), f"{start} = {_as_written(shown)}", ""))
        steps.append(Step(say("combine", language), f"{start} = {tex(result)}", plain(result)))
    else:
        steps.append(Step(say("distribute", language), f"{start} = {tex(result)}", plain(result)))
    return _finish("expand", request, expr, result, steps, "expression", start)


def _written(source: str, expr: sympy.Expr) -> sympy.Expr | None:
    """The problem's formula as the person wrote it (unevaluated), when it is the same formula."""
    if not source:
        return None
    try:
        written = parse_expression(source, evaluate=False)
    except UnsupportedProblem:
        return None
    return written if sympy.expand(written - expr) == 0 else None


def _terms(total: sympy.Expr, as_written: bool) -> list[sympy.Expr]:
    return list(total.args) if as_written else list(total.as_ordered_terms())


def solve_factor(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    expanded = sympy.expand(expr)
    result = sympy.factor(expanded)
    start = tex(expanded)
    steps: list[Step] = []
    common = sympy.factor_terms(expanded)
    remaining, outside = expanded, sympy.S.One
    if common != expanded and common.is_Mul:
        steps.append(Step(say("common_factor", language), f"{start} = {tex(common)}", plain(common)))
        remaining = next((f for f in sympy.Mul.make_args(common) if f.is_Add), expanded)
        outside = sympy.Mul(*[f for f in sympy.Mul.make_args(common) if not f.is_Add])
    steps += _trinomial_steps(remaining, outside, start, language)
    if result in (expanded, common):
        if result == expanded:
            steps.append(Step(say("irreducible", language), tex(result), plain(result)))
    elif not steps or steps[-1].plain != plain(result):
        steps.append(Step(say("factor_further" if steps else "title.factor", language),
                          f"{start} = {tex(result)}", plain(result)))
    return _finish("factor", request, expr, result, steps, "factored")


def _prefix(outside: sympy.Expr) -> str:
    return "" if outside == 1 else ("-" if outside == -1 else f"{tex(outside)} ")


def _trinomial_steps(expr: sympy.Expr, outside: sympy.Expr, start: str, language: str) -> list[Step]:
    """A quadratic in one letter: the identity with its a and b, or the two numbers (and grouping)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(symbols) != 1 or not expr.is_polynomial(symbols[0]):
        return []
    x = symbols[0]
    poly = sympy.Poly(expr, x)
    if poly.degree() != 2 or not all(c.is_Integer for c in poly.all_coeffs()):
        return []
    a, b, c = poly.all_coeffs()
    factored = sympy.factor(expr)
    prefix = _prefix(outside)
    whole = sympy.factor(outside * expr)
    if b == 0 and a > 0 > c and sympy.sqrt(a).is_Rational and sympy.sqrt(-c).is_Rational:
        first, second = sympy.sqrt(a) * x, sympy.sqrt(-c)
        squares = rf"{power_base(first)}^{{2}} - {power_base(second)}^{{2}}"
        line = f"{prefix}\\left({squares}\\right)" if prefix else squares
        return [Step(say("difference_of_squares", language), f"{start} = {line} = {tex(whole)}", plain(whole))]
    if b != 0 and b**2 == 4 * a * c and a > 0 and sympy.sqrt(a).is_Rational:
        first, second = sympy.sqrt(a) * x, sympy.sqrt(c)
        sign = "+" if b > 0 else "-"
        square = (rf"{power_base(first)}^{{2}} {sign} 2 \cdot {wrapped(first)} \cdot {wrapped(second)} + "
                  rf"{power_base(second)}^{{2}}")
        line = f"{prefix}\\left({square}\\right)" if prefix else square
        return [Step(say("perfect_square", language), f"{start} = {line} = {tex(whole)}", plain(whole))]
    roots = [r for r in sympy.roots(poly) if r.is_Rational]
    if c == 0 or len(sympy.roots(poly)) < 1 or not roots or len(roots) < len(sympy.roots(poly)):
        return []
    factors = [f for f in sympy.Mul.make_args(factored) if f.has(x)]
    if len(factors) != 2 or any(sympy.degree(f, x) != 1 for f in factors):
        return []
    # The numbers in the order of the factors they make: (x - 3)(x - 2) from -3 and -2.
    if a == 1:
        numbers = [f.coeff(x, 0) / f.coeff(x, 1) for f in factors]
        return [two_numbers_step(b, c, numbers[0], numbers[1], language),
                Step(say("factors_from_numbers", language), f"{start} = {tex(whole)}", plain(whole))]
    # a·x² + b·x + c: numbers m, n with m·n = a·c and m + n = b split the middle term, then group.
    m, n = (sympy.Integer(v) for v in _split(a * c, b))
    split = " ".join([tex(a * x**2)] + [f"{'-' if t < 0 else '+'} {tex(abs(t) * (x if i < 2 else 1))}"
                                         for i, t in enumerate((m, n, c))])
    first_pair, second_pair = a * x**2 + m * x, n * x + c
    bracket = sympy.gcd(first_pair, second_pair)
    if sympy.degree(bracket, x) != 1:
        return []
    outer_first, outer_second = sympy.cancel(first_pair / bracket), sympy.cancel(second_pair / bracket)
    size = -outer_second if outer_second.could_extract_minus_sign() else outer_second
    grouped = (rf"{'' if outer_first == 1 else tex(outer_first) + ' '}\left({tex(bracket)}\right) "
               rf"{'-' if outer_second.could_extract_minus_sign() else '+'} "
               rf"{'' if size == 1 else tex(size) + ' '}\left({tex(bracket)}\right)")
    return [two_numbers_step(b, a * c, m, n, language),
            Step(say("split_middle", language), f"{start} = {prefix}{_bracket(split, prefix)}", ""),
            Step(say("group_pairs", language), f"{start} = {prefix}{_bracket(grouped, prefix)}", ""),
            Step(say("common_bracket", language), f"{start} = {tex(whole)}", plain(whole))]


def _bracket(latex: str, prefix: str) -> str:
    return rf"\left({latex}\right)" if prefix else latex


def _split(product: sympy.Integer, total: sympy.Integer) -> tuple[int, int]:
    """Two whole numbers with the given product and sum (the larger in size first)."""
    p, s = int(product), int(total)
    for m in range(-abs(p) - 1, abs(p) + 2):
        if m != 0 and p % m == 0 and m + p // m == s:
            n = p // m
            return (m, n) if abs(m) >= abs(n) else (n, m)
    raise ValueError("no whole numbers with that product and sum")


def solve_simplify(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    radicals = _radical_steps(request.source, language) if not expr.free_symbols and request.source else None
    if radicals is not None:
        written, radical_steps = radicals
        return _finish("simplify", request, written, expr, radical_steps, "expression", _as_written(written))
    steps: list[Step] = []
    start = tex(expr)
    numerator, denominator = sympy.fraction(sympy.together(expr))
    variables = tuple(expr.free_symbols)
    rational = (bool(variables) and numerator.is_polynomial(*variables) and denominator.is_polynomial(*variables)
                and denominator.has(*variables))
    if rational:
        cancelled = sympy.cancel(expr)
        result = _simplest(cancelled, sympy.factor(cancelled))
        if not (expr.is_Mul or expr.is_Pow):
            combined = rf"\frac{{{tex(sympy.expand(numerator))}}}{{{tex(sympy.expand(denominator))}}}"
            steps.append(Step(say("combine_fractions", language), f"{start} = {combined}",
                              plain(result) if combined == tex(result) else ""))
        factored = rf"\frac{{{tex(sympy.factor(numerator))}}}{{{tex(sympy.factor(denominator))}}}"
        common = sympy.gcd(sympy.expand(numerator), sympy.expand(denominator))
        if common.has(*variables):
            steps.append(Step(say("factor_fraction", language), f"{start} = {factored}", ""))
            steps.append(Step(say("cancel", language), f"{start} = {tex(result)}", plain(result)))
    elif expr.has(sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc):
        result = _simplest(expr, sympy.trigsimp(expr), sympy.simplify(expr))
        steps.append(Step(say("trig_identity", language), f"{start} = {tex(result)}", plain(result)))
    else:
        result = _simplest(expr, sympy.simplify(expr), sympy.expand(expr), sympy.factor(expr))
        steps.append(Step(say("simplify_result", language), f"{start} = {tex(result)}", plain(result)))
    return _finish("simplify", request, expr, result, steps, "expression")


def _square_part(number: int) -> int:
    """The largest k with k² dividing ``number``: 6 for 72."""
    k = 1
    for prime, power in sympy.factorint(number).items():
        k *= prime ** (power // 2)
    return k


def _radical_steps(source: str, language: str) -> tuple[sympy.Expr, list[Step]] | None:
    """Square roots of whole numbers as written (√12 + √27): each root loses its square factor
    (√12 = √(4·3) = 2√3), then like roots are added or the numbers multiplied. None when no
    root has a square factor to take out."""
    try:
        written = parse_expression(source, evaluate=False)
    except UnsupportedProblem:
        return None
    roots = [node for node in sympy.preorder_traversal(written)
             if isinstance(node, sympy.Pow) and node.exp == sympy.S.Half and node.base.is_Integer
             and node.base > 0]
    lines, latex_lines, replaced = [], [], {}
    for root in dict.fromkeys(roots):
        number = int(root.base)
        k = _square_part(number)
        if k == 1:
            continue
        rest = number // (k * k)
        simpler = sympy.Integer(k) if rest == 1 else sympy.Mul(k, sympy.sqrt(rest), evaluate=False)
        inside = rf"{k}^{{2}}" if rest == 1 else rf"{k}^{{2}} \cdot {rest}"
        latex_lines.append(rf"\sqrt{{{number}}} = \sqrt{{{inside}}} = {tex(simpler)}")
        lines.append(f"√{number} = {plain(simpler)}")
        replaced[root] = simpler
    if not replaced:
        return None
    alone = written in replaced  # the whole problem is one root: this line is the answer
    steps = [Step(say("radical_split", language), r" \\ ".join(latex_lines),  # one root per line
                  plain(replaced[written]) if alone else ", ".join(lines))]
    with sympy.evaluate(False):
        rewritten = written.xreplace(replaced)
    result = sympy.simplify(written)
    if _as_written(rewritten) != tex(result):
        words = say("collect_roots" if isinstance(written, sympy.Add) else "calculate", language)
        steps.append(Step(words, f"{_as_written(written)} = {_as_written(rewritten)} = {tex(result)}",
                          plain(result)))
    return written, steps


def _as_written(expr: sympy.Expr) -> str:
    """LaTeX in the order the person wrote the terms (an unevaluated expression)."""
    return str(sympy.latex(expr, order="none"))
