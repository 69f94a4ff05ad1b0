"""Simplify, expand and factor an expression."""

from __future__ import annotations

import itertools

import sympy

from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import Step, Worked, plain, tex


def _simplest(*candidates: sympy.Expr) -> sympy.Expr:
    return min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))


def _finish(kind: str, request: Request, original: sympy.Expr, result: sympy.Expr, steps: list[Step],
            comparison: str) -> Worked:
    language = request.language
    text = plain(result)
    latex = f"{tex(original)} = {tex(result)}"
    if not steps or steps[-1].plain != text:
        steps.append(Step(say("result", language), latex, text))
    variables = tuple(sorted(original.free_symbols, key=lambda s: s.name))
    reference = ReferenceAnswer(kind, text, comparison, variables, expression=result)
    return Worked(kind, say(f"title.{kind}", language), tex(original), tuple(steps), latex, text, reference)


def solve_expand(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    result = sympy.expand(expr)
    steps: list[Step] = []
    sums = [factor for factor in sympy.Mul.make_args(expr) if factor.is_Add]
    if expr.is_Pow and expr.base.is_Add and len(expr.base.args) == 2 and expr.exp == 2:
        first, second = expr.base.args
        steps.append(Step(say("use_identity", language), r"(a + b)^2 = a^2 + 2ab + b^2", ""))
        middle = sympy.Mul(2, first, second)
        shown = sympy.Add(sympy.Pow(first, 2), middle, sympy.Pow(second, 2), evaluate=False)
        steps.append(Step(say("distribute", language), f"{tex(expr)} = {tex(shown)}", ""))
    elif expr.is_Mul and len(sums) == 2 and all(len(s.args) <= 3 for s in sums):
        others = [factor for factor in sympy.Mul.make_args(expr) if not factor.is_Add]
        coefficient = sympy.Mul(*others)
        products = [sympy.Mul(a, b) for a, b in itertools.product(sums[0].args, sums[1].args)]
        inner = sympy.Add(*products, evaluate=False)
        shown = inner if coefficient == 1 else sympy.Mul(coefficient, inner, evaluate=False)
        steps.append(Step(say("distribute", language), f"{tex(expr)} = {tex(shown)}", ""))
        steps.append(Step(say("combine", language), f"= {tex(result)}", plain(result)))
    else:
        steps.append(Step(say("distribute", language), f"{tex(expr)} = {tex(result)}", plain(result)))
    return _finish("expand", request, expr, result, steps, "expression")


def solve_factor(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    expanded = sympy.expand(expr)
    result = sympy.factor(expanded)
    steps: list[Step] = []
    common = sympy.factor_terms(expanded)
    remaining = expanded
    if common != expanded and common.is_Mul:
        steps.append(Step(say("common_factor", language), f"{tex(expanded)} = {tex(common)}", plain(common)))
        remaining = next((f for f in sympy.Mul.make_args(common) if f.is_Add), expanded)
    pattern = _pattern(remaining)
    if pattern == "difference_of_squares":
        steps.append(Step(say("difference_of_squares", language), r"a^2 - b^2 = (a - b)(a + b)", ""))
    elif pattern == "perfect_square":
        steps.append(Step(say("perfect_square", language), r"a^2 \pm 2ab + b^2 = (a \pm b)^2", ""))
    if result in (expanded, common):
        if result == expanded:
            steps.append(Step(say("irreducible", language), tex(result), plain(result)))
    else:
        steps.append(Step(say("factor_further" if steps else "title.factor", language),
                          f"{tex(expanded)} = {tex(result)}", plain(result)))
    return _finish("factor", request, expr, result, steps, "factored")


def _pattern(expr: sympy.Expr) -> str:
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if len(symbols) != 1 or not expr.is_polynomial(symbols[0]):
        return ""
    poly = sympy.Poly(expr, symbols[0])
    if poly.degree() != 2:
        return ""
    a, b, c = poly.all_coeffs()
    if b == 0 and a > 0 > c and sympy.sqrt(a).is_Rational and sympy.sqrt(-c).is_Rational:
        return "difference_of_squares"
    if b != 0 and b**2 == 4 * a * c and a > 0 and sympy.sqrt(a).is_Rational:
        return "perfect_square"
    return ""


def solve_simplify(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    steps: list[Step] = []
    numerator, denominator = sympy.fraction(sympy.together(expr))
    variables = tuple(expr.free_symbols)
    rational = (bool(variables) and numerator.is_polynomial(*variables) and denominator.is_polynomial(*variables)
                and denominator.has(*variables))
    if rational:
        if not (expr.is_Mul or expr.is_Pow):
            combined = rf"\frac{{{tex(sympy.expand(numerator))}}}{{{tex(sympy.expand(denominator))}}}"
            steps.append(Step(say("combine_fractions", language), f"{tex(expr)} = {combined}", ""))
        steps.append(Step(say("factor_fraction", language),
                          rf"\frac{{{tex(sympy.factor(numerator))}}}{{{tex(sympy.factor(denominator))}}}", ""))
        cancelled = sympy.cancel(expr)
        result = _simplest(cancelled, sympy.factor(cancelled))
        steps.append(Step(say("cancel", language), f"= {tex(result)}", plain(result)))
    elif expr.has(sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc):
        result = _simplest(expr, sympy.trigsimp(expr), sympy.simplify(expr))
        steps.append(Step(say("trig_identity", language), f"{tex(expr)} = {tex(result)}", plain(result)))
    else:
        result = _simplest(expr, sympy.simplify(expr), sympy.expand(expr), sympy.factor(expr))
        steps.append(Step(say("simplify_result", language), f"{tex(expr)} = {tex(result)}", plain(result)))
    return _finish("simplify", request, expr, result, steps, "expression")
