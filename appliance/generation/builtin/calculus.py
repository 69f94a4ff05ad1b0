"""Derivatives, indefinite and definite integrals, and limits."""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass

import sympy
from sympy.integrals.manualintegrate import integral_steps, manualintegrate

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.reference import ReferenceAnswer
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

_DERIVATIVE_RULES = {
    "rule.sum": r"(u + v)' = u' + v'",
    "rule.constant": r"(c\,u)' = c\,u'",
    "rule.power": r"(x^n)' = n\,x^{n-1}",
    "rule.product": r"(u\,v)' = u'\,v + u\,v'",
    "rule.quotient": r"\left(\frac{u}{v}\right)' = \frac{u'\,v - u\,v'}{v^2}",
    "rule.chain": r"\big(f(g(x))\big)' = f'(g(x))\,g'(x)",
}
_TABLE_DERIVATIVES = {
    sympy.sin: r"(\sin x)' = \cos x",
    sympy.cos: r"(\cos x)' = -\sin x",
    sympy.tan: r"(\tan x)' = \frac{1}{\cos^2 x}",
    sympy.exp: r"(e^x)' = e^x",
    sympy.log: r"(\ln x)' = \frac{1}{x}",
    sympy.atan: r"(\arctan x)' = \frac{1}{1 + x^2}",
}


def derivative_rules(function: sympy.Expr, x: sympy.Symbol) -> list[tuple[str, str]]:
    """The differentiation rules the function needs, in the order a person meets them."""
    found: dict[str, str] = {}

    def add(key: str, formula: str) -> None:
        found.setdefault(key, formula)

    for node in sympy.preorder_traversal(function):
        if not node.has(x) or node == x:
            continue
        if node.is_Add and sum(arg.has(x) for arg in node.args) >= 2:
            add("rule.sum", _DERIVATIVE_RULES["rule.sum"])
        elif node.is_Mul:
            numerator, denominator = sympy.fraction(node)
            if any(arg.is_number and arg not in (1, -1) for arg in node.args):
                add("rule.constant", _DERIVATIVE_RULES["rule.constant"])
            if denominator.has(x) and numerator.has(x):
                add("rule.quotient", _DERIVATIVE_RULES["rule.quotient"])
            elif sum(arg.has(x) for arg in node.args) >= 2:
                add("rule.product", _DERIVATIVE_RULES["rule.product"])
        elif node.is_Pow:
            base, exponent = node.args
            if base.has(x) and not exponent.has(x):
                add("rule.power", _DERIVATIVE_RULES["rule.power"])
                if base != x:
                    add("rule.chain", _DERIVATIVE_RULES["rule.chain"])
            elif exponent.has(x) and not base.has(x):
                formula = r"(e^x)' = e^x" if base == sympy.E else r"(a^x)' = a^x \ln a"
                add("rule.table", formula)
                if exponent != x:
                    add("rule.chain", _DERIVATIVE_RULES["rule.chain"])
        elif isinstance(node, sympy.Function):
            table_formula = _TABLE_DERIVATIVES.get(type(node))
            if table_formula:
                add("rule.table", table_formula)
            if node.args[0] != x:
                add("rule.chain", _DERIVATIVE_RULES["rule.chain"])
    renamed = {key: formula.replace("x", tex(x)) if x.name != "x" else formula for key, formula in found.items()}
    return list(renamed.items())


def solve_derivative(request: Request) -> Worked:
    language = request.language
    function, x, order = request.expression, request.variable, request.order
    assert function is not None and x is not None
    first = sympy.diff(function, x)
    steps: list[Step] = []
    for key, formula in derivative_rules(function, x)[:MAX_RULES_SHOWN]:
        steps.append(Step(say(key, language), formula, ""))
    name = "f" if not function.has(sympy.Symbol("f")) else "g"
    steps.append(Step(say("differentiate", language), f"{name}'({tex(x)}) = {tex(first)}",
                      f"{name}'({x}) = {plain(first)}"))
    result = first
    if order == 2:
        result = sympy.diff(first, x)
        steps.append(Step(say("differentiate_again", language), f"{name}''({tex(x)}) = {tex(result)}",
                          f"{name}''({x}) = {plain(result)}"))
    # Only a clear gain is worth a step: factoring x²cos x + 2x sin x makes it no easier to read.
    simpler = _simplest(result, sympy.simplify(result))
    if simpler != result and sympy.count_ops(simpler) < sympy.count_ops(result) - 1:
        result = simpler
        steps.append(Step(say("simplify_result", language), f"{name}{chr(39) * order}({tex(x)}) = {tex(result)}",
                          f"{name}{chr(39) * order}({x}) = {plain(result)}"))
    primes = "'" * order
    text = f"{name}{primes}({x}) = {plain(result)}"
    latex = f"{name}{primes}({tex(x)}) = {tex(result)}"
    point = request.point
    reference_value = None
    if point is not None:
        value = sympy.simplify(result.subs(x, point))
        if not value.is_finite:
            raise UnsupportedProblem(f"The derivative is not defined at {x} = {plain(point)}.")
        value_plain, value_latex = with_approximation(value)
        steps.append(Step(say("substitute_point", language, var=x, point=plain(point)),
                          f"{name}{primes}({tex(point)}) = {value_latex}", value_plain))
        text = f"{name}{primes}({plain(point)}) = {value_plain}"
        latex = f"{name}{primes}({tex(point)}) = {value_latex}"
        reference_value = value
    operator = rf"\frac{{d}}{{d{tex(x)}}}" if order == 1 else rf"\frac{{d^2}}{{d{tex(x)}^2}}"
    problem = rf"{operator}\left({tex(function)}\right)"
    if reference_value is not None:
        reference = ReferenceAnswer("derivative", text, "number", (x,), values=(reference_value,))
    else:
        reference = ReferenceAnswer("derivative", text, "expression", (x,), expression=result)
    figure = _function_pair_figure(function, result, x, f"{name}({tex(x)})", f"{name}{primes}({tex(x)})",
                                   say("function_and_derivative", language))
    title = say("title.second_derivative" if order == 2 else "title.derivative", language)
    return Worked("derivative", title, problem, tuple(steps), latex, text, reference, figure)


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
    result = _simplest(candidates[0], sympy.simplify(candidates[0]))
    if sympy.simplify(sympy.diff(result, x) - integrand) != 0:
        raise UnsupportedProblem("The built-in solver could not verify this antiderivative.")
    return result


def solve_indefinite_integral(request: Request) -> Worked:
    language = request.language
    integrand, x = request.expression, request.variable
    assert integrand is not None and x is not None
    result = antiderivative(integrand, x)
    steps = [Step(say(key, language), formula, "") for key, formula in integral_rules(integrand, x)[:MAX_RULES_SHOWN]]
    dx = rf"\,d{tex(x)}"
    steps.append(Step(say("antiderivative", language), rf"\int {tex(integrand)}{dx} = {tex(result)} + C",
                      f"{plain(result)} + C"))
    steps.append(Step(say("check_derivative", language), rf"\left({tex(result)}\right)' = {tex(integrand)}", ""))
    text = f"{plain(result)} + C"
    latex = rf"\int {tex(integrand)}{dx} = {tex(result)} + C"
    reference = ReferenceAnswer("indefinite_integral", text, "antiderivative", (x,), expression=result)
    figure = _function_pair_figure(integrand, result, x, f"f({tex(x)})", f"F({tex(x)})",
                                   say("function_and_antiderivative", language))
    return Worked("indefinite_integral", say("title.indefinite_integral", language),
                  rf"\int {tex(integrand)}{dx}", tuple(steps), latex, text, reference, figure)


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
    integral = rf"\int_{{{tex(lower)}}}^{{{tex(upper)}}} {tex(integrand)}{dx}"
    at_upper = _evaluate_at(result, x, upper)
    at_lower = _evaluate_at(result, x, lower)
    steps = [Step(say("antiderivative", language), f"F({tex(x)}) = {tex(result)}", f"F({x}) = {plain(result)}")]
    steps.append(Step(say("newton_leibniz", language),
                      rf"F({tex(upper)}) - F({tex(lower)}) = {_bracketed(at_upper)} - {_bracketed(at_lower)}",
                      ""))
    value_plain, value_latex = with_approximation(value)
    steps.append(Step(say("result", language), f"{integral} = {value_latex}", value_plain))
    reference = ReferenceAnswer("definite_integral", value_plain, "number", (x,), values=(value,))
    figure = _area_figure(integrand, x, lower, upper, say("area_under", language))
    return Worked("definite_integral", say("title.definite_integral", language), integral, tuple(steps),
                  f"{integral} = {value_latex}", value_plain, reference, figure)


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
                          rf"\lim_{{{tex(x)} \to {tex(point)}^-}} = {tex(left)},\quad "
                          rf"\lim_{{{tex(x)} \to {tex(point)}^+}} = {tex(right)}",
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


def _limit_steps(function: sympy.Expr, x: sympy.Symbol, point: sympy.Expr, value: sympy.Expr,
                 limit_latex: str, language: str) -> list[Step]:
    numerator, denominator = sympy.fraction(sympy.together(function))
    if point.is_finite:
        direct = function.subs(x, point)
        if direct.is_finite and denominator.subs(x, point) != 0 and sympy.simplify(direct - value) == 0:
            return [Step(say("substitute_point", language, var=x, point=plain(point)),
                         f"{limit_latex}{_grouped(function)} = {tex(direct)}", plain(direct))]
        top, bottom = sympy.simplify(numerator.subs(x, point)), sympy.simplify(denominator.subs(x, point))
        steps: list[Step] = []
        if top == 0 and bottom == 0:
            steps.append(Step(say("indeterminate", language), r"\frac{0}{0}", "0/0"))
            if numerator.is_polynomial(x) and denominator.is_polynomial(x):
                cancelled = sympy.cancel(function)
                steps.append(Step(say("factor_cancel", language),
                                  rf"{limit_latex}\frac{{{tex(sympy.factor(numerator))}}}"
                                  rf"{{{tex(sympy.factor(denominator))}}} = {limit_latex}{_grouped(cancelled)}", ""))
                steps.append(Step(say("substitute_point", language, var=x, point=plain(point)),
                                  f"{limit_latex}{_grouped(cancelled)} = {tex(value)}", plain(value)))
                return steps
            top_derivative, bottom_derivative = sympy.diff(numerator, x), sympy.diff(denominator, x)
            ratio = rf"\frac{{{tex(top_derivative)}}}{{{tex(bottom_derivative)}}}"
            steps.append(Step(say("lhopital", language), f"{limit_latex}{ratio} = {tex(value)}", plain(value)))
            return steps
        return [Step(say("evaluate_limit", language), f"{limit_latex}{_grouped(function)} = {tex(value)}",
                     plain(value))]
    if numerator.is_polynomial(x) and denominator.is_polynomial(x) and denominator.has(x):
        lead_top = sympy.Poly(numerator, x).LT()
        lead_bottom = sympy.Poly(denominator, x).LT()
        top_term = lead_top[1] * x ** lead_top[0][0]
        bottom_term = lead_bottom[1] * x ** lead_bottom[0][0]
        return [Step(say("leading_terms", language, var=x),
                     rf"{limit_latex}\frac{{{tex(top_term)}}}{{{tex(bottom_term)}}} = {tex(value)}", plain(value))]
    return [Step(say("evaluate_limit", language), f"{limit_latex}{_grouped(function)} = {tex(value)}", plain(value))]


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
