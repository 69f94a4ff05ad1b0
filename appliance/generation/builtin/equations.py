"""Equations, systems of two linear equations, and inequalities in one variable."""

from __future__ import annotations

import math

import sympy
from sympy import S

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import plots
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.parse import ParsedRelation
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import (
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
_SIGN_LATEX = {"<": "<", ">": ">", "<=": r"\le", ">=": r"\ge", "=": "="}
_SIGN_PLAIN = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "=": "="}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


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
    if (left_expanded, right_expanded) != (left, right):
        steps.append(_step(say("expand_both", language), (left_expanded, right_expanded), ("=",)))
    coefficient = left_expanded.coeff(x, 1) - right_expanded.coeff(x, 1)
    constant = right_expanded.coeff(x, 0) - left_expanded.coeff(x, 0)
    problem = relation_latex((left, right), ("=",))
    figure_curves = _two_sides_curves(left, right, x, [], language)
    if coefficient == 0:
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
    collected = (coefficient * x, constant)
    if collected != (left_expanded, right_expanded):
        steps.append(_step(say("collect", language, var=x), collected, ("=",)))
    root = constant / coefficient
    if coefficient != 1:
        steps.append(_step(say("divide", language, a=plain(coefficient)), (x, root), ("=",)))
    text, latex = roots_text(x, [root])
    reference = ReferenceAnswer("linear_equation", text, "roots", (x,), values=(root,),
                                solution_set=sympy.FiniteSet(root))
    figure = _two_sides_curves(left, right, x, [root], language)
    return Worked("linear_equation", say("title.linear_equation", language), problem, tuple(steps), latex, text,
                  reference, figure)


def _quadratic(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked:
    language = request.language
    moved = sympy.expand(left - right)
    a, b, c = sympy.Poly(moved, x).all_coeffs()
    steps: list[Step] = []
    if (left, right) != (moved, 0):
        steps.append(_step(say("move_all", language), (moved, sympy.Integer(0)), ("=",)))
    discriminant = b**2 - 4 * a * c
    roots = _sorted_real([r for r in sympy.roots(sympy.Poly(moved, x)) if r.is_real])
    square_root = sympy.sqrt(discriminant)
    if discriminant >= 0 and square_root.is_Rational:
        factored = sympy.factor(moved)
        steps.append(_step(say("factor_poly", language), (factored, sympy.Integer(0)), ("=",)))
        if len(roots) == 2:
            factors = [f for f in sympy.Mul.make_args(factored) if f.has(x)]
            if len(factors) == 2:
                steps.append(Step(say("zero_product", language),
                                  r",\quad ".join(f"{tex(f)} = 0" for f in factors),
                                  ", ".join(f"{plain(f)} = 0" for f in factors)))
    else:
        def shown(value: sympy.Expr) -> str:
            return f"\\left({tex(value)}\\right)" if value.is_negative else tex(value)

        steps.append(Step(say("discriminant", language),
                          f"D = b^2 - 4ac = {shown(b)}^2 - 4 \\cdot {shown(a)} \\cdot {shown(c)} = {tex(discriminant)}",
                          f"D = b^2 - 4ac = {plain(discriminant)}"))
        if discriminant < 0:
            steps.append(Step(say("no_real_roots", language), f"D = {tex(discriminant)} < 0",
                              f"D = {plain(discriminant)} < 0"))
        elif discriminant == 0:
            steps.append(Step(say("double_root", language), f"x = -\\frac{{b}}{{2a}} = {tex(roots[0])}",
                              f"x = {plain(roots[0])}"))
        else:
            formula = (f"{tex(x)} = \\frac{{-b \\pm \\sqrt{{D}}}}{{2a}} = "
                       f"\\frac{{{tex(-b)} \\pm \\sqrt{{{tex(discriminant)}}}}}{{{tex(2 * a)}}}")
            steps.append(Step(say("quadratic_formula", language), formula,
                              f"{x} = (-b ± √D) / (2a)"))
    if roots:
        text, latex = roots_text(x, roots)
        if any(not root.is_Rational for root in roots):
            latex += r"\quad (" + r",\ ".join(rf"\approx {approx(root, 3)}" for root in roots) + ")"
            latex = latex.replace(r"(\approx", r"(\approx", 1)
        steps.append(Step(say("solutions", language), latex, text))
    else:
        text, latex = say("no_real_solution", language), r"D < 0"
    reference = ReferenceAnswer("quadratic_equation", text, "roots", (x,), values=tuple(roots),
                                solution_set=sympy.FiniteSet(*roots), special="" if roots else "none")
    caption = say("roots_on_graph" if roots else "no_roots_on_graph", language)
    figure = _polynomial_figure(moved, x, roots, caption)
    return Worked("quadratic_equation", say("title.quadratic_equation", language),
                  relation_latex((left, right), ("=",)), tuple(steps), latex, text, reference, figure)


def _general(request: Request, left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol) -> Worked:
    language = request.language
    try:
        solutions = sympy.solveset(sympy.Eq(left, right), x, domain=S.Reals)
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise UnsupportedProblem("The built-in solver cannot solve this equation.") from exc
    if not isinstance(solutions, sympy.FiniteSet) and solutions != S.EmptySet:
        raise UnsupportedProblem(
            "This equation has infinitely many or no closed-form solutions; the built-in solver lists only "
            "finitely many exact ones."
        )
    roots = list(solutions) if isinstance(solutions, sympy.FiniteSet) else []
    if len(roots) > MAX_LISTED_SOLUTIONS or not all(_is_nice(root) for root in roots):
        raise UnsupportedProblem("The solutions of this equation are too complicated for the built-in solver.")
    roots = _sorted_real(roots)
    steps: list[Step] = []
    moved = sympy.expand(left - right)
    numerator, denominator = sympy.fraction(sympy.together(left - right))
    polynomial = moved.is_polynomial(x)
    if denominator.has(x):
        steps.append(Step(say("numerator_zero", language),
                          rf"{tex(sympy.expand(numerator))} = 0,\quad {tex(denominator)} \neq 0",
                          f"{plain(sympy.expand(numerator))} = 0, {plain(denominator)} ≠ 0"))
    elif polynomial:
        if (left, right) != (moved, 0):
            steps.append(_step(say("move_all", language), (moved, sympy.Integer(0)), ("=",)))
        factored = sympy.factor(moved)
        if factored != moved:
            steps.append(_step(say("factor_poly", language), (factored, sympy.Integer(0)), ("=",)))
            steps.append(Step(say("zero_product", language)))
    if roots and not polynomial:
        checks = []
        for root in roots[:3]:
            checks.append(f"{tex(x)} = {tex(root)}:\\ {tex(sympy.simplify(left.subs(x, root)))} = "
                          f"{tex(sympy.simplify(right.subs(x, root)))}")
        steps.append(Step(say("check", language), r"\\ ".join(checks), ""))
    if roots:
        text, latex = roots_text(x, roots)
        steps.append(Step(say("solutions", language), latex, text))
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
                  tuple(steps), latex, text, reference, figure)


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


def _two_sides_curves(left: sympy.Expr, right: sympy.Expr, x: sympy.Symbol,
                      roots: list[sympy.Expr], language: str) -> GraphFigure | None:
    """Both sides as graphs; the solutions are where they meet."""
    points = plots.real_points(roots)
    left_function, right_function = plots.numeric(left, x), plots.numeric(right, x)
    x_range = plots.x_window([*points, 0.0])
    meeting = [left_function(p) for p in points]
    y_range = plots.y_window([left_function, right_function], x_range, meeting)
    curves = []
    for side, color in ((left, "BLUE"), (right, "ORANGE")):
        drawn = plots.curve(side, x, x_range, y_range, color, f"y = {tex(side)}")
        if drawn is None:
            return None
        curves.append(drawn)
    markers = tuple(Marker(p, y, plots.coordinate_label(p, y)) for p, y in zip(points, meeting, strict=True)
                    if math.isfinite(y))
    return GraphFigure(x_range, y_range, tuple(curves), markers, caption=say("intersection_on_graph", language))


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
    # Substitution: isolate the variable with coefficient ±1 if there is one (no fractions on screen).
    candidates = [(abs(matrix[i, j]) != 1, i, j) for i in range(2) for j in range(2) if matrix[i, j] != 0]
    _, row, column = min(candidates)
    isolated, other = (u, v) if column == 0 else (v, u)
    expression = sympy.solve(sympy.Eq(*relations[row].sides), isolated)[0]
    steps.append(Step(say("from_equation", language, n=row + 1, var=isolated),
                      f"{tex(isolated)} = {tex(expression)}", f"{isolated} = {plain(expression)}"))
    second = relations[1 - row]
    substituted = (second.sides[0].subs(isolated, expression), second.sides[1].subs(isolated, expression))
    steps.append(_step(say("substitute", language), substituted, ("=",)))
    other_value = sympy.solve(sympy.Eq(*substituted), other)[0]
    expanded = (sympy.expand(substituted[0]), sympy.expand(substituted[1]))
    if expanded != substituted and expanded[1] != other_value:
        steps.append(_step(say("combine", language), expanded, ("=",)))
    steps.append(_step(say("solve_for", language, var=other), (other, other_value), ("=",)))
    isolated_value = expression.subs(other, other_value)
    shown = expression.subs(other, sympy.UnevaluatedExpr(other_value))
    steps.append(Step(say("back_substitute", language, var=isolated),
                      f"{tex(isolated)} = {tex(shown)} = {tex(isolated_value)}",
                      f"{isolated} = {plain(isolated_value)}"))
    values = {u: other_value if other == u else isolated_value, v: other_value if other == v else isolated_value}
    text = f"{u} = {plain(values[u])}, {v} = {plain(values[v])}"
    latex = rf"{tex(u)} = {tex(values[u])},\quad {tex(v)} = {tex(values[v])}"
    reference = ReferenceAnswer("linear_system", text, "assignment", (u, v), values=(values[u], values[v]))
    figure = _system_figure(relations, u, v, (values[u], values[v]), language)
    return Worked("linear_system", title, problem, tuple(steps), latex, text, reference, figure)


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
            steps += _linear_inequality_steps(sides[0], signs[0], sides[1], x, language)
        else:
            steps += _sign_chart_steps(sides[0], signs[0], sides[1], x, language)
    else:
        first = _solve_relation(sides[0], signs[0], sides[1], x)
        second = _solve_relation(sides[1], signs[1], sides[2], x)
        solution = sympy.Intersection(first, second)
        steps.append(Step(say("each_part", language),
                          rf"{relation_latex(sides[:2], signs[:1])}:\ {set_latex(first, x)}\qquad "
                          rf"{relation_latex(sides[1:], signs[1:])}:\ {set_latex(second, x)}",
                          f"{set_plain(first, x, language)}; {set_plain(second, x, language)}"))
        steps.append(Step(say("both_hold", language), set_latex(solution, x), set_plain(solution, x, language)))
    text = set_plain(solution, x, language)
    latex = set_latex(solution, x)
    if not steps or steps[-1].latex != latex:
        steps.append(Step(say("solutions", language), latex, text))
    special = "all" if solution == S.Reals else "none" if solution == S.EmptySet else ""
    reference = ReferenceAnswer("inequality", text, "set", (x,), solution_set=solution, special=special)
    figure = number_line_figure(solution, say("number_line", language))
    return Worked("inequality", say("title.inequality", language), problem, tuple(steps), latex, text,
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


def _linear_inequality_steps(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol,
                             language: str) -> list[Step]:
    steps = []
    left_expanded, right_expanded = sympy.expand(left), sympy.expand(right)
    if (left_expanded, right_expanded) != (left, right):
        steps.append(_step(say("expand_both", language), (left_expanded, right_expanded), (sign,)))
    coefficient = left_expanded.coeff(x, 1) - right_expanded.coeff(x, 1)
    constant = right_expanded.coeff(x, 0) - left_expanded.coeff(x, 0)
    if (coefficient * x, constant) != (left_expanded, right_expanded):
        steps.append(_step(say("collect", language, var=x), (coefficient * x, constant), (sign,)))
    if coefficient != 1:
        final_sign = _FLIPPED[sign] if coefficient < 0 else sign
        words = say("divide", language, a=plain(coefficient))
        if coefficient < 0:
            words += ". " + say("flip", language)
        steps.append(_step(words, (x, constant / coefficient), (final_sign,)))
    return steps


def _sign_chart_steps(left: sympy.Expr, sign: str, right: sympy.Expr, x: sympy.Symbol,
                      language: str) -> list[Step]:
    moved = sympy.factor(sympy.together(left - right))
    steps = []
    if (left, right) != (moved, 0):
        key = "factor_poly" if right == 0 else "move_all"
        steps.append(_step(say(key, language), (moved, sympy.Integer(0)), (sign,)))
    numerator, denominator = sympy.fraction(moved)
    zeros = sympy.solveset(numerator, x, S.Reals)
    poles = sympy.solveset(denominator, x, S.Reals) if denominator.has(x) else S.EmptySet
    critical = []
    if isinstance(zeros, sympy.FiniteSet):
        critical += list(zeros)
    if isinstance(poles, sympy.FiniteSet):
        critical += list(poles)
    critical = _sorted_real([c for c in set(critical) if c.is_real])
    if critical and len(critical) <= MAX_LISTED_SOLUTIONS:
        steps.append(Step(say("zeros", language), r",\quad ".join(f"{tex(x)} = {tex(c)}" for c in critical),
                          ", ".join(f"{x} = {plain(c)}" for c in critical)))
        steps.append(Step(say("sign", language)))
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
