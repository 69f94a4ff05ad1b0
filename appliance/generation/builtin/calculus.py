"""Derivatives, indefinite and definite integrals, and limits."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import sympy
from sympy import S
from sympy.integrals.manualintegrate import integral_steps, manualintegrate

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.equations import CHECK, fit_steps, power_base, substituted, wrapped, wrapped_plain
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say, spoken
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.templates import MAX_STEPS
from appliance.generation.builtin.worked import (
    GraphFigure,
    Marker,
    Step,
    Worked,
    plain,
    tex,
    with_approximation,
)

MAX_RULES_SHOWN = 3
# Results outside these functions are not something a school video can explain.
ELEMENTARY = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc,
              sympy.asin, sympy.acos, sympy.atan, sympy.sinh, sympy.cosh, sympy.tanh, sympy.Abs)


def _is_elementary(expr: sympy.Basic) -> bool:
    if expr.has(sympy.Integral, sympy.Limit, sympy.Piecewise, sympy.nan, sympy.zoo):
        return False
    return all(isinstance(node, ELEMENTARY) for node in expr.atoms(sympy.Function))


def _grouped(expr: sympy.Expr) -> str:
    """LaTeX of an expression after an operator: "\\lim (x + 2)", not "\\lim x + 2"."""
    return rf"\left({tex(expr)}\right)" if expr.is_Add else tex(expr)


def _simplest(*candidates: sympy.Expr) -> sympy.Expr:
    return min(candidates, key=lambda e: (sympy.count_ops(e), len(str(e))))


# -- derivatives -------------------------------------------------------------------------------


def derivative_of(expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    """``expr``'s derivative as a student's table writes it: SymPy says (tan x)' = tan²x + 1,
    the table says 1/cos²x (and -1/sin²x for cot x)."""
    derivative = sympy.diff(expr, x)
    if derivative.has(sympy.tan, sympy.cot):
        table_form = sympy.trigsimp(derivative)
        if sympy.count_ops(table_form) <= sympy.count_ops(derivative):
            return table_form
    return derivative

_RULE_FORMULAS = {
    "use_product": r"(u\,v)' = u'\,v + u\,v'",
    "use_quotient": r"\left(\frac{u}{v}\right)' = \frac{u'\,v - u\,v'}{v^2}",
    "use_chain": r"\big(g(u)\big)' = g'(u) \cdot u'",
}


def outer_inner(g: sympy.Expr, x: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr, sympy.Symbol] | None:
    """(inner, outer as a function of u, u) when ``g`` is a function of a function of x, else None."""
    u = sympy.Symbol("w" if x.name == "u" else "u")
    if g.is_Pow:
        base, exponent = g.args
        if base.has(x) and not exponent.has(x) and base != x:
            return base, u**exponent, u
        if exponent.has(x) and not base.has(x) and exponent != x:
            return exponent, base**u, u
    elif isinstance(g, sympy.Function) and len(g.args) == 1 and g.args[0].has(x) and g.args[0] != x:
        return g.args[0], g.func(u), u
    return None


def why_key(expr: sympy.Expr, x: sympy.Symbol) -> str:
    """The phrase saying which rule differentiates ``expr``."""
    if not expr.has(x):
        return "why.constant"
    _, g = expr.as_independent(x, as_Add=False)
    if g.is_Add:
        keys = {why_key(term, x) for term in g.args if term.has(x)}
        return keys.pop() if len(keys) == 1 else "why.sum"
    numerator, denominator = sympy.fraction(g)
    if denominator.has(x) and numerator.has(x):
        return "why.quotient"
    if g.is_Mul and sum(factor.has(x) for factor in g.args) >= 2:
        return "why.product"
    if outer_inner(g, x) is not None:
        return "why.chain"
    if g == x or (g.is_Pow and g.base == x and not g.exp.has(x)):
        return "why.power"
    if g.is_Pow and g.base.has(x) and g.exp.has(x):
        return "why.exp_log"
    return "why.table"


def _why(expr: sympy.Expr, x: sympy.Symbol, language: str) -> str:
    return say(why_key(expr, x), language)


PRIME = "'"


def called(name: str, primes: str, argument: str, at_variable: bool) -> str:
    """f'(x), f''(2); but y' and y'' for a function given as "y = …", as a teacher writes
    them: a bracket only when it holds a point."""
    if name == "y" and at_variable:
        return f"y{primes}"
    return f"{name}{primes}({argument})"


def function_label(name: str, argument: str) -> str:
    return "y" if name == "y" else f"{name}({argument})"


def derivative_steps(function: sympy.Expr, x: sympy.Symbol, name: str, language: str,
                     compact: bool = False) -> list[Step]:
    """How the derivative is found: the rule, its parts and their derivatives, put together.

    The last step's formula is ``name'(x) = …`` (``y' = …``) equal to the derivative (not yet
    simplified)."""
    lhs, lhs_plain = called(name, PRIME, tex(x), True), called(name, PRIME, str(x), True)

    def result(words: str, latex: str, text: str) -> Step:
        return Step(words, f"{lhs} = {latex}", f"{lhs_plain} = {text}")

    constant, g = function.as_independent(x, as_Add=False)
    if constant == 1:
        open_latex = close_latex = open_plain = close_plain = ""
    elif constant == -1:
        open_latex, close_latex, open_plain, close_plain = r"-\left(", r"\right)", "-(", ")"
    else:
        open_latex, close_latex = rf"{tex(constant)} \cdot \left(", r"\right)"
        open_plain, close_plain = f"{plain(constant)}·(", ")"
    if function.is_Add:
        return _sum_steps(function, x, language, result)
    numerator, denominator = sympy.fraction(g)
    pieces = [factor for factor in g.as_ordered_factors() if factor.has(x)] if g.is_Mul else []
    if denominator.has(x) and numerator.has(x):
        u, v, kind = numerator, denominator, "quotient"
    elif len(pieces) >= 2:
        u, v, kind = pieces[0], sympy.Mul(*pieces[1:]), "product"
    else:
        chain = outer_inner(g, x)
        if chain is not None:
            return _chain_steps(chain, x, language, compact, result, (open_latex, close_latex, open_plain,
                                                                        close_plain))
        return [_basic_step(function, x, language, result)]
    du, dv = derivative_of(u, x), derivative_of(v, x)
    rule = "use_product" if kind == "product" else "use_quotient"
    names = ("name_first", "name_second", "name_factors") if kind == "product" else \
        ("name_numerator", "name_denominator", "name_fraction")
    steps = [Step(say(rule, language), _RULE_FORMULAS[rule], "")]
    if compact:
        steps.append(Step(say(names[2], language), rf"u = {tex(u)},\quad v = {tex(v)}",
                          f"u = {plain(u)}, v = {plain(v)}"))
        steps.append(Step(say("derive_parts", language), rf"u' = {tex(du)},\quad v' = {tex(dv)}",
                          f"u' = {plain(du)}, v' = {plain(dv)}"))
    else:
        steps.append(Step(say(names[0], language), f"u = {tex(u)}", f"u = {plain(u)}"))
        steps.append(Step(say(names[1], language), f"v = {tex(v)}", f"v = {plain(v)}"))
        steps.append(Step(f"{say('derive_part', language, part='u')}. {_why(u, x, language)}",
                          f"u' = {tex(du)}", f"u' = {plain(du)}"))
        steps.append(Step(f"{say('derive_part', language, part='v')}. {_why(v, x, language)}",
                          f"v' = {tex(dv)}", f"v' = {plain(dv)}"))
    if kind == "product":
        latex = rf"{wrapped(du)} \cdot {wrapped(v)} + {wrapped(u)} \cdot {wrapped(dv)}"
        text = f"{wrapped_plain(du)}·{wrapped_plain(v)} + {wrapped_plain(u)}·{wrapped_plain(dv)}"
    else:
        latex = (rf"\frac{{{wrapped(du)} \cdot {wrapped(v)} - {wrapped(u)} \cdot {wrapped(dv)}}}"
                 rf"{{{power_base(v)}^{{2}}}}")
        text = (f"({wrapped_plain(du)}·{wrapped_plain(v)} - {wrapped_plain(u)}·{wrapped_plain(dv)})"
                f"/{wrapped_plain(v)}^2")
    steps.append(result(say("put_into_rule", language), f"{open_latex}{latex}{close_latex}",
                        f"{open_plain}{text}{close_plain}"))
    return steps


def _sum_steps(function: sympy.Expr, x: sympy.Symbol, language: str, result: Callable[[str, str, str], Step]
               ) -> list[Step]:
    """Term by term: (a + b)' = a' + b', then each derivative by its rule."""
    terms = function.as_ordered_terms()
    split_latex, split_plain, done_latex, done_plain = [], [], [], []
    for index, term in enumerate(terms):
        negative = index > 0 and term.could_extract_minus_sign()
        shown = -term if negative else term
        derivative = derivative_of(shown, x)
        sign = " - " if negative else (" + " if index else "")
        split_latex.append(rf"{sign}\left({tex(shown)}\right)'")
        split_plain.append(f"{sign}({plain(shown)})'")
        done_latex.append(sign + (wrapped(derivative) if index else tex(derivative)))
        done_plain.append(sign + (wrapped_plain(derivative) if index else plain(derivative)))
    keys = {why_key(term, x) for term in terms if term.has(x)}
    words = say(keys.pop(), language) if len(keys) == 1 else say("why.sum", language)
    return [result(say("use_sum", language), "".join(split_latex), "".join(split_plain)),
            result(words, "".join(done_latex), "".join(done_plain))]


def _chain_steps(chain: tuple[sympy.Expr, sympy.Expr, sympy.Symbol], x: sympy.Symbol, language: str,
                 compact: bool, result: Callable[[str, str, str], Step], brackets: tuple[str, str, str, str]
                 ) -> list[Step]:
    """Inner function u and u', outer function g(u) and g'(u), then g'(u)·u' with u put back."""
    inner, outer, u = chain
    inner_derivative = derivative_of(inner, x)
    outer_derivative = derivative_of(outer, u)
    put_back = outer_derivative.subs(u, inner)
    u_tex = tex(u)
    steps = [] if compact else [Step(say("use_chain", language), _RULE_FORMULAS["use_chain"].replace("u", u_tex),
                                     "")]
    steps.append(Step(f"{say('inner_function', language)}. {_why(inner, x, language)}".replace(" u.", f" {u}."),
                      rf"{u_tex} = {tex(inner)},\quad {u_tex}' = {tex(inner_derivative)}",
                      f"{u} = {plain(inner)}, {u}' = {plain(inner_derivative)}"))
    steps.append(Step(f"{say('outer_function', language)}. {_why(outer, u, language)}",
                      rf"g({u_tex}) = {tex(outer)},\quad g'({u_tex}) = {tex(outer_derivative)}",
                      f"g({u}) = {plain(outer)}, g'({u}) = {plain(outer_derivative)}"))
    open_latex, close_latex, open_plain, close_plain = brackets
    steps.append(result(say("multiply_chain", language),
                        rf"{open_latex}{wrapped(put_back)} \cdot {wrapped(inner_derivative)}{close_latex}",
                        f"{open_plain}{wrapped_plain(put_back)}·{wrapped_plain(inner_derivative)}{close_plain}"))
    return steps


def _basic_step(function: sympy.Expr, x: sympy.Symbol, language: str,
                result: Callable[[str, str, str], Step]) -> Step:
    """One rule in one line: c·xⁿ -> c·n·xⁿ⁻¹, or a derivative from the table."""
    derivative = derivative_of(function, x)
    constant, g = function.as_independent(x, as_Add=False)
    words = _why(function, x, language)
    if constant not in (1, -1) and g.has(x):
        words += ". " + say("constant_factor", language)
    exponent = S.One if g == x else (g.exp if g.is_Pow and g.base == x and not g.exp.has(x) else None)
    if exponent is not None and exponent != 1:
        factor = constant * exponent
        lead = "-" if factor == -1 else "" if factor == 1 else f"{tex(factor)} "
        lead_plain = "-" if factor == -1 else "" if factor == 1 else plain(factor)
        shown = rf"{lead}{tex(x)}^{{{tex(exponent - 1)}}}"
        shown_plain = f"{lead_plain}{x}^{wrapped_plain(exponent - 1)}"
        if shown != tex(derivative):
            return result(words, f"{shown} = {tex(derivative)}", f"{shown_plain} = {plain(derivative)}")
    return result(words, tex(derivative), plain(derivative))


def solve_derivative(request: Request) -> Worked:
    language = request.language
    function, x, order = request.expression, request.variable, request.order
    assert function is not None and x is not None
    first = derivative_of(function, x)
    name = request.function_name
    if function.has(sympy.Symbol(name)):  # "f(x) = x f" is not a name to keep
        name = "g" if name == "f" else "f"
    result = first if order == 1 else derivative_of(first, x)
    # Only a clear gain is worth a step: factoring x²cos x + 2x sin x makes it no easier to read.
    simpler = _simplest(result, sympy.simplify(result))
    if simpler != result and sympy.count_ops(simpler) < sympy.count_ops(result) - 1:
        result = simpler
    primes = PRIME * order
    text = f"{called(name, primes, str(x), True)} = {plain(result)}"
    latex = f"{called(name, primes, tex(x), True)} = {tex(result)}"
    point = request.point
    value = None
    if point is not None:
        value = sympy.simplify(result.subs(x, point))
        if not value.is_finite:
            raise UnsupportedProblem(f"The derivative is not defined at {x} = {plain(point)}.")
    steps: list[Step] = []
    for compact in (False, True):
        steps = derivative_steps(function, x, name, language, compact)
        if order == 2:
            if not steps[-1].latex.endswith(f" = {tex(first)}"):
                first_latex = f"{called(name, PRIME, tex(x), True)} = {tex(first)}"
                steps.append(Step(say("simplify_result", language), first_latex,
                                  f"{called(name, PRIME, str(x), True)} = {plain(first)}"))
            second = derivative_of(first, x)
            steps.append(Step(f"{say('differentiate_again', language)}. {_why(first, x, language)}",
                              f"{called(name, PRIME * 2, tex(x), True)} = {tex(second)}",
                              f"{called(name, PRIME * 2, str(x), True)} = {plain(second)}"))
        if not steps[-1].latex.endswith(f" = {tex(result)}"):
            steps.append(Step(say("simplify_result", language), latex, text))
        if point is not None and value is not None:
            value_plain, value_latex = with_approximation(value)
            shown, shown_plain = substituted(result, {x: point})
            spoken_point = spoken(point, language)
            words = (say("substitute_point", language, var=x.name, point=spoken_point) if spoken_point is not None
                     else say("substitute_given", language))
            middle = f" = {shown}" if shown != tex(value) else ""
            at_latex, at_plain = called(name, primes, tex(point), False), called(name, primes, plain(point), False)
            steps.append(Step(words, f"{at_latex}{middle} = {value_latex}",
                              f"{at_plain} = {shown_plain} = {value_plain}"))
            text = f"{at_plain} = {value_plain}"
            latex = f"{at_latex} = {value_latex}"
        if len(steps) <= MAX_STEPS:
            break
    operator = rf"\frac{{d}}{{d{tex(x)}}}" if order == 1 else rf"\frac{{d^2}}{{d{tex(x)}^2}}"
    problem = rf"{operator}\left({tex(function)}\right)"
    if value is not None:
        reference = ReferenceAnswer("derivative", text, "number", (x,), values=(value,))
    else:
        reference = ReferenceAnswer("derivative", text, "expression", (x,), expression=result)
    figure = _function_pair_figure(function, result, x, function_label(name, tex(x)),
                                   called(name, primes, tex(x), True), say("function_and_derivative", language))
    title = say("title.second_derivative" if order == 2 else "title.derivative", language)
    return Worked("derivative", title, problem, tuple(fit_steps(steps)), latex, text, reference, figure)


def _function_pair_figure(function: sympy.Expr, other: sympy.Expr, x: sympy.Symbol, label: str,
                          other_label: str, caption: str) -> GraphFigure | None:
    f, g = plots.numeric(function, x), plots.numeric(other, x)
    x_range = plots.x_window([-4.0, 4.0])
    defined = sum(math.isfinite(f(x_range[0] + (x_range[1] - x_range[0]) * i / 100)) for i in range(101))
    if defined < 60:
        x_range = plots.x_window([0.0, 6.0])  # ln x, √x and friends live on the right
    y_range = plots.y_window([f, g], x_range)
    curves = [plots.curve(function, x, x_range, y_range, "BLUE", label),
              plots.curve(other, x, x_range, y_range, "GREEN", other_label)]
    drawn = tuple(c for c in curves if c is not None)
    if not drawn:
        return None
    return GraphFigure(x_range, y_range, drawn, caption=caption)


# -- integrals ---------------------------------------------------------------------------------

_INTEGRAL_RULES = {
    "AddRule": ("rule.int_sum", r"\int (f + g)\,dx = \int f\,dx + \int g\,dx"),
    "ConstantTimesRule": ("rule.int_constant", r"\int c\,f\,dx = c \int f\,dx"),
    "PowerRule": ("rule.int_power", r"\int x^n\,dx = \frac{x^{n+1}}{n+1} + C"),
    "ConstantRule": ("rule.int_table", r"\int a\,dx = a\,x + C"),
    "ExpRule": ("rule.int_table", r"\int e^x\,dx = e^x + C"),
    "ReciprocalRule": ("rule.int_table", r"\int \frac{1}{x}\,dx = \ln|x| + C"),
    "SinRule": ("rule.int_table", r"\int \sin x\,dx = -\cos x + C"),
    "CosRule": ("rule.int_table", r"\int \cos x\,dx = \sin x + C"),
    "ArctanRule": ("rule.int_table", r"\int \frac{dx}{1 + x^2} = \arctan x + C"),
    "PartsRule": ("rule.parts", r"\int u\,dv = u\,v - \int v\,du"),
    "URule": ("rule.substitution", ""),
    "RewriteRule": ("rule.rewrite", ""),
}


def integral_rules(integrand: sympy.Expr, x: sympy.Symbol) -> list[tuple[str, str]]:
    """The integration rules SymPy's step-by-step integrator uses, first alternative only."""
    try:
        root = integral_steps(integrand, x)
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        return []
    found: dict[str, str] = {}

    def visit(rule: object) -> None:
        if not is_dataclass(rule):
            return
        name = type(rule).__name__
        if name == "AlternativeRule":
            alternatives = getattr(rule, "alternatives", [])
            if alternatives:
                visit(alternatives[0])
            return
        if name in _INTEGRAL_RULES:
            key, formula = _INTEGRAL_RULES[name]
            if name == "URule":
                u_function = getattr(rule, "u_func", None)
                formula = f"u = {tex(u_function)}" if u_function is not None else ""
            elif name == "PartsRule":
                u, dv = getattr(rule, "u", None), getattr(rule, "dv", None)
                if u is not None and dv is not None:
                    formula += rf",\quad u = {tex(u)},\ dv = {tex(dv)}\,d{tex(x)}"
            elif name == "RewriteRule":
                rewritten = getattr(rule, "rewritten", None)
                formula = tex(rewritten) if rewritten is not None else ""
            found.setdefault(key, formula)
        for item in fields(rule):
            value = getattr(rule, item.name)
            for child in value if isinstance(value, list) else [value]:
                visit(child)

    visit(root)
    return list(found.items())


def antiderivative(integrand: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    """An elementary antiderivative, verified by differentiation; UnsupportedProblem otherwise."""
    candidates = []
    for method in (manualintegrate, sympy.integrate):
        try:
            candidate = method(integrand, x)
        except (NotImplementedError, ValueError, TypeError, RecursionError):
            continue
        if _is_elementary(candidate):
            candidates.append(candidate)
            break
    if not candidates:
        raise UnsupportedProblem(
            "This integral has no elementary antiderivative the built-in solver can show step by step."
        )
    if candidates[0].is_polynomial(x) and candidates[0].is_Add:
        # x²/3·(x - 6) is no way to write x³/3 - 2x²: a sum of powers stays one.
        result = candidates[0]
    else:
        result = _simplest(candidates[0], sympy.simplify(candidates[0]))
    if sympy.simplify(sympy.diff(result, x) - integrand) != 0:
        raise UnsupportedProblem("The built-in solver could not verify this antiderivative.")
    return result


_ATOMIC_WHY = {"PowerRule": "why.int_power", "ConstantRule": "why.int_constant"}
# Rules that are one line of a table of integrals (anything else is explained or left to the fallback).
_TABLE_RULES = frozenset({"PowerRule", "ConstantRule", "ExpRule", "ReciprocalRule", "SinRule", "CosRule",
                          "SecTanRule", "CscCotRule", "Sec2Rule", "Csc2Rule", "ArctanRule", "ArcsinRule",
                          "ArcsinhRule", "SinhRule", "CoshRule", "NestedPowRule"})


def _is_atomic(rule: Any) -> bool:
    return type(rule).__name__ in _TABLE_RULES


def _choose(rule: Any, x: sympy.Symbol, first: bool) -> Any:
    """One alternative: the substitution a teacher would make (u a polynomial), or SymPy's first."""
    while type(rule).__name__ == "AlternativeRule":
        alternatives = list(getattr(rule, "alternatives", []))
        if not alternatives:
            return rule
        preferred = [a for a in alternatives if type(a).__name__ == "URule"
                     and getattr(a, "u_func", x).is_polynomial(x)]
        preferred += [a for a in alternatives if type(a).__name__ == "PartsRule"]
        rule = alternatives[0] if first or not preferred else preferred[0]
    return rule


def _flatten(rule: Any, x: sympy.Symbol, first: bool) -> tuple[sympy.Expr, Any]:
    """(c, rule) with the integrand = c · the rule's integrand: constant factors pulled out."""
    constant: sympy.Expr = S.One
    rule = _choose(rule, x, first)
    while type(rule).__name__ == "ConstantTimesRule":
        constant *= rule.constant
        rule = _choose(rule.substep, x, first)
    return constant, rule


def _integral_sign(integrand: sympy.Expr, variable: sympy.Symbol | str) -> str:
    return rf"\int {_grouped(integrand)}\,d{variable if isinstance(variable, str) else tex(variable)}"


def _scaled(constant: sympy.Expr, latex: str, several_terms: bool) -> str:
    if constant == 1:
        return latex
    if constant == -1:
        return rf"-\left({latex}\right)" if several_terms else f"-{latex}"
    if latex.startswith(r"\int"):
        return f"{tex(constant)} {latex}"
    return rf"{tex(constant)} \left({latex}\right)" if several_terms else rf"{tex(constant)} \cdot {latex}"


def integral_steps_shown(integrand: sympy.Expr, x: sympy.Symbol, result: sympy.Expr,
                         language: str) -> list[Step] | None:
    """The antiderivative by its rules, each line ``∫ f dx = …``, ending with ``result + C``."""
    try:
        root = integral_steps(integrand, x)
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        return None
    for first in (False, True):
        try:
            shown = _integral_lines(root, integrand, x, language, first)
        except (AttributeError, TypeError, ValueError, NotImplementedError):
            shown = None
        if shown is None:
            continue
        steps, found = shown
        if sympy.simplify(found - result) != 0:
            continue
        if not steps[-1].latex.endswith(f"= {tex(result)} + C"):
            steps.append(Step(say("int_tidy", language), f"{_integral_sign(integrand, x)} = {tex(result)} + C",
                              f"{plain(result)} + C"))
        return steps
    return None


def _integral_lines(root: Any, integrand: sympy.Expr, x: sympy.Symbol, language: str,
                    first: bool) -> tuple[list[Step], sympy.Expr] | None:
    head = _integral_sign(integrand, x)
    dx = rf"\,d{tex(x)}"
    steps: list[Step] = []
    constant, rule = _flatten(root, x, first)
    while type(rule).__name__ == "RewriteRule":
        rewritten = rule.rewritten
        shown = _scaled(constant, _integral_sign(rewritten, x), False)
        steps.append(Step(say("rule.rewrite", language), f"{head} = {shown}", ""))
        more, rule = _flatten(rule.substep, x, first)
        constant *= more
    name = type(rule).__name__
    inner = rule.integrand
    if constant != 1 and name != "AddRule":
        shown = _scaled(constant, _integral_sign(inner, x), False)
        steps.append(Step(say("int_constant_out", language), f"{head} = {shown}", ""))

    def line(words: str, latex: str, several: bool, closed: bool = True) -> Step:
        return Step(words, f"{head} = {_scaled(constant, latex, several)}" + (" + C" if closed else ""), "")

    if _is_atomic(rule):
        value = rule.eval()
        steps.append(line(say(_ATOMIC_WHY.get(name, "why.int_table"), language), tex(value), value.is_Add))
        return steps, constant * value
    if name == "AddRule":
        terms = [_flatten(step, x, first) for step in rule.substeps]
        split, done, keys = [], [], set()
        total: sympy.Expr = S.Zero
        for index, (factor, term_rule) in enumerate(terms):
            factor = factor * constant
            value = term_rule.eval()
            total += factor * value
            negative = factor.could_extract_minus_sign()
            size = -factor if negative else factor
            sign = " - " if negative else (" + " if index else "")
            lead = "" if size == 1 else f"{tex(size)} "
            split.append(f"{sign}{lead}{_integral_sign(term_rule.integrand, x)}")
            times = "" if size == 1 else tex(size) + r" \cdot "
            done.append(sign + times + (wrapped(value) if size != 1 or index else tex(value)))
            keys.add(_ATOMIC_WHY.get(type(term_rule).__name__, "why.int_table") if _is_atomic(term_rule)
                     else "why.int_mixed")
        steps.append(Step(say("int_split", language), f"{head} = {''.join(split)}", ""))
        steps.append(Step(say(keys.pop() if len(keys) == 1 else "why.int_mixed", language),
                          f"{head} = {''.join(done)} + C", ""))
        return steps, total
    if name == "PartsRule":
        u, dv = rule.u, rule.dv
        v = rule.v_step.eval()
        du = sympy.diff(u, x)
        second = rule.second_step
        rest = second.eval() if second is not None else sympy.integrate(v * du, x)
        du_latex = f"d{tex(x)}" if du == 1 else f"-d{tex(x)}" if du == -1 else rf"{tex(du)}\,d{tex(x)}"
        steps.append(Step(say("parts_choose", language), rf"u = {tex(u)},\quad dv = {tex(dv)}{dx}", ""))
        steps.append(Step(say("parts_derive", language), rf"du = {du_latex},\quad v = {tex(v)}", ""))
        steps.append(line(say("parts_formula", language), rf"{tex(u * v)} - {_integral_sign(v * du, x)}",
                          True, closed=False))
        steps.append(line(say("parts_finish", language), rf"{tex(u * v)} - {wrapped(rest)}", True))
        return steps, constant * (u * v - rest)
    if name == "URule":
        u_var, u_func = rule.u_var, rule.u_func
        u = sympy.Symbol("t" if x.name == "u" else "u")
        inner_constant, inner_rule = _flatten(rule.substep, u_var, first)
        in_u = rule.substep.integrand.subs(u_var, u)
        value = (inner_constant * inner_rule.eval()).subs(u_var, u)
        du = sympy.diff(u_func, x)
        du_latex = f"d{tex(x)}" if du == 1 else f"-d{tex(x)}" if du == -1 else rf"{tex(du)}\,d{tex(x)}"
        steps.append(Step(say("sub_choose", language), rf"{tex(u)} = {tex(u_func)},\quad d{tex(u)} = {du_latex}", ""))
        steps.append(line(say("sub_rewrite", language), _integral_sign(in_u, u), False, closed=False))
        steps.append(line(say("sub_integrate", language), tex(value), value.is_Add))
        back = value.subs(u, u_func)
        steps.append(line(say("sub_back", language), tex(back), back.is_Add))
        return steps, constant * back
    return None


def solve_indefinite_integral(request: Request) -> Worked:
    language = request.language
    integrand, x = request.expression, request.variable
    assert integrand is not None and x is not None
    result = antiderivative(integrand, x)
    dx = rf"\,d{tex(x)}"
    head = _integral_sign(integrand, x)
    shown = integral_steps_shown(integrand, x, result, language)
    if shown is None:
        shown = [Step(say(key, language), formula, "")
                 for key, formula in integral_rules(integrand, x)[:MAX_RULES_SHOWN]]
        shown.append(Step(say("antiderivative", language), f"{head} = {tex(result)} + C", f"{plain(result)} + C"))
    steps = shown[: MAX_STEPS - 1]
    steps.append(Step(say("check_derivative", language), rf"\left({tex(result)}\right)' = {tex(integrand)}{CHECK}",
                      f"({plain(result)})' = {plain(integrand)} ✓"))
    text = f"{plain(result)} + C"
    latex = rf"\int {_grouped(integrand)}{dx} = {tex(result)} + C"
    reference = ReferenceAnswer("indefinite_integral", text, "antiderivative", (x,), expression=result)
    figure = _function_pair_figure(integrand, result, x, f"f({tex(x)})", f"F({tex(x)})",
                                   say("function_and_antiderivative", language))
    return Worked("indefinite_integral", say("title.indefinite_integral", language),
                  rf"\int {_grouped(integrand)}{dx}", tuple(steps), latex, text, reference, figure)


def solve_definite_integral(request: Request) -> Worked:
    language = request.language
    integrand, x, lower, upper = request.expression, request.variable, request.lower, request.upper
    assert integrand is not None and x is not None and lower is not None and upper is not None
    try:
        value = sympy.integrate(integrand, (x, lower, upper))
    except (NotImplementedError, ValueError, TypeError, RecursionError) as exc:
        raise UnsupportedProblem("The built-in solver cannot evaluate this integral.") from exc
    if not _is_elementary(value) or not value.is_finite or value.is_real is False:
        raise UnsupportedProblem(
            "This integral diverges or has no closed form; the built-in solver only explains finite ones."
        )
    value = sympy.nsimplify(value) if value.is_Float else sympy.simplify(value)
    result = antiderivative(integrand, x)
    dx = rf"\,d{tex(x)}"
    integral = rf"\int_{{{tex(lower)}}}^{{{tex(upper)}}} {_grouped(integrand)}{dx}"
    at_upper = _evaluate_at(result, x, upper)
    at_lower = _evaluate_at(result, x, lower)
    steps = integral_steps_shown(integrand, x, result, language) or []
    first = say("find_antiderivative", language)
    if steps and len(f"{first}. {steps[0].say}") <= 120:
        steps[0] = Step(f"{first}. {steps[0].say}", steps[0].latex, steps[0].plain)
    steps = steps[: MAX_STEPS - 2] or [Step(first, f"F({tex(x)}) = {tex(result)}", f"F({x}) = {plain(result)}")]
    value_plain, value_latex = with_approximation(value)
    parts = [rf"F({tex(upper)}) - F({tex(lower)})"]
    plain_parts = [f"F({plain(upper)}) - F({plain(lower)})"]
    upper_shown, lower_shown = _shown_at(result, x, upper), _shown_at(result, x, lower)
    if upper_shown is not None and lower_shown is not None:
        parts.append(rf"{upper_shown[0]} - {_bracketed_latex(lower_shown[0])}")
        plain_parts.append(f"{upper_shown[1]} - ({lower_shown[1]})")
    parts.append(rf"{tex(at_upper)} - {_bracketed(at_lower)}")
    plain_parts.append(f"{plain(at_upper)} - ({plain(at_lower)})")
    parts.append(tex(value))
    plain_parts.append(plain(value))
    unique = [part for index, part in enumerate(parts) if index == 0 or part != parts[index - 1]]
    steps.append(Step(say("newton_leibniz", language), f"{integral} = " + " = ".join(unique),
                      " = ".join(plain_parts)))
    if value_plain != plain(value):
        steps.append(Step(say("result", language), f"{integral} = {value_latex}", value_plain))
    reference = ReferenceAnswer("definite_integral", value_plain, "number", (x,), values=(value,))
    figure = _area_figure(integrand, x, lower, upper, say("area_under", language))
    return Worked("definite_integral", say("title.definite_integral", language), integral, tuple(steps),
                  f"{integral} = {value_latex}", value_plain, reference, figure)


def _shown_at(expr: sympy.Expr, x: sympy.Symbol, point: sympy.Expr) -> tuple[str, str] | None:
    """F(point) written out with the point put in (None at an infinite or singular end)."""
    if not point.is_finite:
        return None
    value = expr.subs(x, point)
    if value.has(sympy.zoo, sympy.nan) or not value.is_finite:
        return None
    return substituted(expr, {x: point})


def _bracketed_latex(latex: str) -> str:
    return rf"\left({latex}\right)" if latex.startswith("-") or " + " in latex or " - " in latex else latex


def _evaluate_at(expr: sympy.Expr, x: sympy.Symbol, point: sympy.Expr) -> sympy.Expr:
    if point.is_infinite:
        return sympy.limit(expr, x, point)
    value = expr.subs(x, point)
    if value.has(sympy.zoo, sympy.nan) or not value.is_finite:
        return sympy.limit(expr, x, point, "+" if point == 0 else "+-")
    return sympy.simplify(value)


def _bracketed(value: sympy.Expr) -> str:
    return rf"\left({tex(value)}\right)" if value.could_extract_minus_sign() else tex(value)


def _area_figure(integrand: sympy.Expr, x: sympy.Symbol, lower: sympy.Expr, upper: sympy.Expr,
                 caption: str) -> GraphFigure | None:
    if not (lower.is_finite and upper.is_finite):
        return None
    a, b = float(lower), float(upper)
    f = plots.numeric(integrand, x)
    inside = [f(a + (b - a) * i / 100) for i in range(101)]
    if not all(math.isfinite(v) for v in inside):
        return None  # a singular end (1/√x at 0): no shading rather than a broken picture
    x_range = plots.x_window([a, b])
    y_range = plots.y_window([f], x_range, [min(inside), max(inside)])
    graph = plots.curve(integrand, x, x_range, y_range, "BLUE", f"y = {tex(integrand)}")
    code = plots.numpy_code(integrand, x)
    if graph is None or code is None or any(not (y_range[0] <= v <= y_range[1]) for v in inside):
        return None
    return GraphFigure(x_range, y_range, (graph,), area=(code, a, b), caption=caption)


# -- limits --------------------------------------------------------------------------------------


def solve_limit(request: Request) -> Worked:
    language = request.language
    function, x, point, direction = request.expression, request.variable, request.point, request.direction
    assert function is not None and x is not None and point is not None
    arrow = {"+": "^+", "-": "^-"}.get(direction, "")
    limit_latex = rf"\lim_{{{tex(x)} \to {tex(point)}{arrow}}} "
    problem = limit_latex + _grouped(function)
    steps: list[Step] = []
    try:
        if point.is_finite and direction == "+-":
            left, right = sympy.limit(function, x, point, "-"), sympy.limit(function, x, point, "+")
            value = left if left == right else None
        else:
            left = right = None
            value = sympy.limit(function, x, point, "+" if direction == "+-" else direction)
    except (NotImplementedError, ValueError, TypeError, RecursionError) as exc:
        raise UnsupportedProblem("The built-in solver cannot evaluate this limit.") from exc
    if value is not None and (value.has(sympy.Limit, sympy.AccumBounds, sympy.nan) or value == sympy.zoo):
        raise UnsupportedProblem("The built-in solver cannot evaluate this limit.")
    if value is None:
        assert left is not None and right is not None
        steps.append(Step(say("one_sided", language),
                          rf"\lim_{{{tex(x)} \to {tex(point)}^-}} {_grouped(function)} = {tex(left)},\quad "
                          rf"\lim_{{{tex(x)} \to {tex(point)}^+}} {_grouped(function)} = {tex(right)}",
                          f"{plain(left)} ≠ {plain(right)}"))
        text = say("dne", language)
        reference = ReferenceAnswer("limit", text, "number", (x,), special="dne")
        figure = _limit_figure(function, x, point, None, say("graph", language))
        return Worked("limit", say("title.limit", language), problem, tuple(steps), "", text, reference, figure)
    steps += _limit_steps(function, x, point, value, limit_latex, language)
    value_plain, value_latex = with_approximation(value) if value.is_finite else (plain(value), tex(value))
    if not steps or not steps[-1].latex.endswith(tex(value)):
        steps.append(Step(say("result", language), f"{limit_latex}{_grouped(function)} = {value_latex}", value_plain))
    reference = ReferenceAnswer("limit", value_plain, "number", (x,), values=(value,))
    figure = _limit_figure(function, x, point, value, say("graph", language))
    return Worked("limit", say("title.limit", language), problem, tuple(steps),
                  f"{problem} = {value_latex}", value_plain, reference, figure)


def _known_limit(function: sympy.Expr, x: sympy.Symbol, point: sympy.Expr) -> str | None:
    """The phrase for a limit every course lists: sin x / x at 0, (1 + 1/x)^x at infinity."""
    if point == 0 and any(sympy.simplify(function - known) == 0
                          for known in (sympy.sin(x) / x, x / sympy.sin(x), sympy.tan(x) / x)):
        return "known_limit"
    if point == sympy.oo and function.is_Pow and function.exp == x:
        k = sympy.simplify((function.base - 1) * x)
        if k.is_number and k != 0:
            return "known_limit_e"
    return None


def _zeroed(expr: sympy.Expr, x: sympy.Symbol) -> str:
    """A sum with every term that still has x written as 0: 3 + 1/x² -> 3 + 0."""
    parts = []
    for index, term in enumerate(expr.as_ordered_terms()):
        negative = index > 0 and term.could_extract_minus_sign()
        size = -term if negative else term
        shown = "0" if size.has(x) else tex(size)
        parts.append((" - " if negative else " + " if index else "") + shown)
    return "".join(parts)


def _limit_steps(function: sympy.Expr, x: sympy.Symbol, point: sympy.Expr, value: sympy.Expr,
                 limit_latex: str, language: str) -> list[Step]:
    numerator, denominator = sympy.fraction(sympy.together(function))
    body = _grouped(function)
    known = _known_limit(function, x, point)
    if point.is_finite:
        direct = function.subs(x, point)
        if direct.is_finite and denominator.subs(x, point) != 0 and sympy.simplify(direct - value) == 0:
            shown, shown_plain = substituted(function, {x: point})
            middle = f" = {shown}" if shown != tex(value) else ""
            return [Step(say("continuous", language), f"{limit_latex}{body}{middle} = {tex(value)}",
                         f"{shown_plain} = {plain(value)}")]
        top, bottom = sympy.simplify(numerator.subs(x, point)), sympy.simplify(denominator.subs(x, point))
        top_shown, bottom_shown = substituted(numerator, {x: point})[0], substituted(denominator, {x: point})[0]
        steps: list[Step] = []
        if top == 0 and bottom == 0:
            steps.append(Step(say("indeterminate", language),
                              rf"\frac{{{top_shown}}}{{{bottom_shown}}} = \frac{{0}}{{0}}", "0/0"))
            if known is not None:
                steps.append(Step(say(known, language), f"{limit_latex}{body} = {tex(value)}", plain(value)))
                return steps
            if numerator.is_polynomial(x) and denominator.is_polynomial(x):
                cancelled = sympy.cancel(function)
                steps.append(Step(say("factor_cancel", language),
                                  rf"{limit_latex}\frac{{{tex(sympy.factor(numerator))}}}"
                                  rf"{{{tex(sympy.factor(denominator))}}} = {limit_latex}{_grouped(cancelled)}", ""))
                shown, shown_plain = substituted(cancelled, {x: point})
                steps.append(Step(say("substitute_now", language),
                                  f"{limit_latex}{_grouped(cancelled)} = {shown} = {tex(value)}",
                                  f"{shown_plain} = {plain(value)}"))
                return steps
            return steps + _lhopital_steps(numerator, denominator, x, point, value, limit_latex, body, language)
        if top != 0 and bottom == 0:
            steps.append(Step(say("nonzero_over_zero", language),
                              rf"\frac{{{top_shown}}}{{{bottom_shown}}} = \frac{{{tex(top)}}}{{0}}", ""))
            steps.append(Step(say("result", language), f"{limit_latex}{body} = {tex(value)}", plain(value)))
            return steps
        return [Step(say("evaluate_limit", language), f"{limit_latex}{body} = {tex(value)}", plain(value))]
    if known is not None:
        return [Step(say(known, language), f"{limit_latex}{body} = {tex(value)}", plain(value))]
    if numerator.is_polynomial(x) and denominator.is_polynomial(x) and denominator.has(x):
        top_degree, bottom_degree = sympy.degree(numerator, x), sympy.degree(denominator, x)
        if top_degree <= bottom_degree:
            power = x**bottom_degree
            top, bottom = sympy.expand(numerator / power), sympy.expand(denominator / power)
            divided = rf"{limit_latex}\frac{{{tex(top)}}}{{{tex(bottom)}}}"
            return [Step(say("divide_highest", language, var=x.name), f"{limit_latex}{body} = {divided}", ""),
                    Step(say("vanish", language, var=x.name),
                         rf"{divided} = \frac{{{_zeroed(top, x)}}}{{{_zeroed(bottom, x)}}} = {tex(value)}",
                         plain(value))]
        lead_top = sympy.Poly(numerator, x).LT()
        lead_bottom = sympy.Poly(denominator, x).LT()
        top_term = lead_top[1] * x ** lead_top[0][0]
        bottom_term = lead_bottom[1] * x ** lead_bottom[0][0]
        return [Step(say("leading_terms", language, var=x),
                     rf"{limit_latex}\frac{{{tex(top_term)}}}{{{tex(bottom_term)}}} = {tex(value)}", plain(value))]
    return [Step(say("evaluate_limit", language), f"{limit_latex}{body} = {tex(value)}", plain(value))]


def _lhopital_steps(numerator: sympy.Expr, denominator: sympy.Expr, x: sympy.Symbol, point: sympy.Expr,
                    value: sympy.Expr, limit_latex: str, body: str, language: str) -> list[Step]:
    """Differentiate top and bottom (again while it stays 0/0), then substitute."""
    steps = []
    top, bottom = numerator, denominator
    at_top = at_bottom = S.Zero
    for attempt in range(3):
        previous = rf"\frac{{\left({tex(top)}\right)'}}{{\left({tex(bottom)}\right)'}}"
        top, bottom = sympy.diff(top, x), sympy.diff(bottom, x)
        ratio = limit_latex + (_grouped(top) if bottom == 1 else rf"\frac{{{tex(top)}}}{{{tex(bottom)}}}")
        start = body if attempt == 0 else ""
        latex = f"{limit_latex}{start} = {limit_latex}{previous} = {ratio}" if attempt == 0 else ratio
        steps.append(Step(say("lhopital" if attempt == 0 else "still_indeterminate", language), latex, ""))
        at_top, at_bottom = sympy.simplify(top.subs(x, point)), sympy.simplify(bottom.subs(x, point))
        if not (at_top == 0 and at_bottom == 0):
            break
    if at_bottom != 0 and sympy.simplify(at_top / at_bottom - value) == 0:
        shown_top, shown_bottom = substituted(top, {x: point})[0], substituted(bottom, {x: point})[0]
        shown = shown_top if bottom == 1 else rf"\frac{{{shown_top}}}{{{shown_bottom}}}"
        middle = f" = {shown}" if shown != tex(value) else ""
        steps.append(Step(say("substitute_now", language), f"{ratio}{middle} = {tex(value)}", plain(value)))
    else:
        steps.append(Step(say("evaluate_limit", language), f"{limit_latex}{body} = {tex(value)}", plain(value)))
    return steps


def _limit_figure(function: sympy.Expr, x: sympy.Symbol, point: sympy.Expr, value: sympy.Expr | None,
                  caption: str) -> GraphFigure | None:
    f = plots.numeric(function, x)
    if point.is_finite:
        centre = float(point)
        x_range = plots.x_window([centre - 3, centre + 3])
    else:
        far = 20.0 if point == sympy.oo else -20.0
        x_range = plots.x_window([0.0, far])
    focus = [float(value)] if value is not None and value.is_finite else []
    y_range = plots.y_window([f], x_range, focus)
    graph = plots.curve(function, x, x_range, y_range, "BLUE", f"y = {tex(function)}")
    if graph is None:
        return None
    markers: tuple[Marker, ...] = ()
    guides: tuple[tuple[float, str], ...] = ()
    if value is not None and value.is_finite:
        if point.is_finite:
            markers = (Marker(float(point), float(value), plots.coordinate_label(float(point), float(value)),
                              hollow=True),)
        guides = ((float(value), "YELLOW"),)
    return GraphFigure(x_range, y_range, (graph,), markers, horizontal_lines=guides, caption=caption)
