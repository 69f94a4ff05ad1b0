"""Arithmetic, fractions and percentages, worked in the order a person writes them.

SymPy reorders terms even unevaluated (``(3+4)*5 - 6/2`` prints as
``-6/2 + 5(3+4)``), which would make the steps look unlike the problem. So
pure arithmetic is read by a tiny parser of its own that keeps the written
order, and reduced one layer of innermost operations at a time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sympy

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import Step, Worked, plain, tex, with_approximation

MAX_STAGES_SHOWN = 4
_TOKENS = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(sqrt)|([-+*/^()]))")


@dataclass(frozen=True)
class Node:
    op: str  # "num", "+", "-", "*", "/", "^", "neg", "sqrt"
    value: sympy.Expr | None = None
    left: Node | None = None
    right: Node | None = None


class _Parser:
    """expr := term (+|- term)*; term := unary ((*|/|implicit) unary)*; unary := -unary | power."""

    def __init__(self, source: str) -> None:
        self.tokens: list[str] = []
        position = 0
        source = source.strip()
        while position < len(source):
            match = _TOKENS.match(source, position)
            if not match or match.end() == position:
                raise ValueError(source[position:])
            self.tokens.append(match.group(match.lastindex or 0).strip())
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise ValueError("trailing input")
        return node

    def expression(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = Node(op, left=node, right=self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "/"):
                op = self.take()
                node = Node(op, left=node, right=self.unary())
            elif token is not None and (token == "(" or token == "sqrt" or token[0].isdigit()):
                node = Node("*", left=node, right=self.unary())  # 2(3+4)
            else:
                return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return Node("neg", left=self.unary())
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return Node("^", left=base, right=self.unary())
        return base

    def atom(self) -> Node:
        token = self.take()
        if token[0].isdigit():
            return Node("num", value=sympy.Rational(token))
        if token == "(":
            node = self.expression()
            self.take(")")
            return node
        if token == "sqrt":
            return Node("sqrt", left=self.atom())
        raise ValueError(token)


def parse_arithmetic(source: str) -> Node | None:
    """The written-order tree of a pure arithmetic formula, or None if it is not one."""
    try:
        return _Parser(source.replace("%", "/100")).parse()
    except (ValueError, IndexError):
        return None


def _value(node: Node) -> sympy.Expr:
    assert node.value is not None
    return node.value


def _reduce(node: Node) -> Node:
    """Evaluate every operation whose operands are already numbers (one layer)."""
    if node.op == "num":
        return node
    children = [child for child in (node.left, node.right) if child is not None]
    if all(child.op == "num" for child in children):
        return Node("num", value=_compute(node.op, [_value(child) for child in children]))
    left = _reduce(node.left) if node.left is not None else None
    right = _reduce(node.right) if node.right is not None else None
    return Node(node.op, left=left, right=right)


def _compute(op: str, values: list[sympy.Expr]) -> sympy.Expr:
    if op == "neg":
        return -values[0]
    if op == "sqrt":
        return sympy.sqrt(values[0])
    left, right = values
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if right == 0:
            raise UnsupportedProblem("Division by zero has no value.")
        return left / right
    if abs(right) > 1000 or (abs(left) > 1 and abs(right) * math.log10(float(abs(left))) > 300):
        raise UnsupportedProblem("The numbers in the problem are too large.")
    return sympy.Pow(left, right)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 3, "neg": 2, "^": 4, "sqrt": 5, "num": 5}


def _is_negative_number(node: Node) -> bool:
    return node.op == "num" and bool(_value(node) < 0)


def to_latex(node: Node) -> str:
    if node.op == "num":
        return tex(_value(node))
    if node.op == "sqrt":
        assert node.left is not None
        return rf"\sqrt{{{to_latex(node.left)}}}"
    if node.op == "neg":
        assert node.left is not None
        inner = to_latex(node.left)
        return f"-\\left({inner}\\right)" if node.left.op in ("+", "-") else f"-{inner}"
    assert node.left is not None and node.right is not None
    if node.op == "/":
        return rf"\frac{{{to_latex(node.left)}}}{{{to_latex(node.right)}}}"
    left, right = to_latex(node.left), to_latex(node.right)
    if node.op == "^":
        if node.left.op != "num" or _is_negative_number(node.left) or not _value(node.left).is_Integer:
            left = rf"\left({left}\right)"
        return f"{left}^{{{right}}}"
    precedence = _PRECEDENCE[node.op]
    if _PRECEDENCE[node.left.op] < precedence:
        left = rf"\left({left}\right)"
    right_needs = _PRECEDENCE[node.right.op] < precedence or (node.op == "-" and node.right.op in ("+", "-"))
    if right_needs or _is_negative_number(node.right) or node.right.op == "neg":
        right = rf"\left({right}\right)"
    symbol = {"+": "+", "-": "-", "*": r"\cdot"}[node.op]
    return f"{left} {symbol} {right}"


def to_plain(node: Node) -> str:
    if node.op == "num":
        text = plain(_value(node))
        return f"({text})" if "/" in text or text.startswith("-") else text
    if node.op == "sqrt":
        assert node.left is not None
        return f"√({to_plain(node.left)})"
    if node.op == "neg":
        assert node.left is not None
        return f"-({to_plain(node.left)})"
    assert node.left is not None and node.right is not None
    symbol = {"+": " + ", "-": " - ", "*": " · ", "/": "/", "^": "^"}[node.op]
    left, right = to_plain(node.left), to_plain(node.right)
    if node.left.op not in ("num", "sqrt"):
        left = f"({left})"
    if node.right.op not in ("num", "sqrt"):
        right = f"({right})"
    return f"{left}{symbol}{right}"


def _fraction_terms(node: Node) -> list[tuple[int, sympy.Rational]] | None:
    """A sum of integer fractions as [(sign, fraction)], or None."""
    if node.op in ("+", "-") and node.left is not None and node.right is not None:
        left = _fraction_terms(node.left)
        right = _fraction_terms(node.right)
        if left is None or right is None:
            return None
        if node.op == "-":
            right = [(-sign, value) for sign, value in right]
        return left + right
    if node.op == "/" and node.left is not None and node.right is not None:
        if node.left.op == "num" and node.right.op == "num" and _value(node.left).is_Integer \
                and _value(node.right).is_Integer and _value(node.right) != 0:
            return [(1, sympy.Rational(_value(node.left), _value(node.right)))]
        return None
    if node.op == "num" and _value(node).is_Integer:
        return [(1, sympy.Rational(_value(node)))]
    return None


def _fraction_steps(node: Node, language: str) -> list[Step] | None:
    start = to_latex(node)
    terms = _fraction_terms(node)
    if not terms or len(terms) < 2 or all(value.q == 1 for _, value in terms):
        return None
    denominator = sympy.ilcm(*[int(value.q) for _, value in terms])
    pieces = []
    numerators = []
    for index, (sign, value) in enumerate(terms):
        numerator = int(value.p) * (denominator // int(value.q)) * sign
        numerators.append(numerator)
        shown = rf"\frac{{{abs(numerator)}}}{{{denominator}}}"
        pieces.append(("- " if numerator < 0 else ("+ " if index else "")) + shown)
    total = sympy.Rational(sum(numerators), denominator)
    numerator_sum = " ".join(
        (f"- {abs(n)}" if n < 0 else (f"+ {n}" if i else str(n))) for i, n in enumerate(numerators)
    )
    steps = [
        Step(say("common_denominator", language, d=denominator), f"{start} = " + " ".join(pieces), ""),
        Step(say("add_numerators", language), rf"{start} = \frac{{{numerator_sum}}}{{{denominator}}} = "
                                               rf"\frac{{{sum(numerators)}}}{{{denominator}}}", ""),
    ]
    if total.q != denominator:
        steps.append(Step(say("reduce", language),
                          rf"{start} = \frac{{{sum(numerators)}}}{{{denominator}}} = {tex(total)}",
                          plain(total)))
    return steps


def solve_arithmetic(request: Request) -> Worked:
    language = request.language
    expr = request.expression
    assert expr is not None
    tree = parse_arithmetic(request.source) if request.source else None
    steps: list[Step] = []
    if tree is not None:
        problem = to_latex(tree)
        value = _evaluate(tree)
        fraction_steps = _fraction_steps(tree, language)
        if fraction_steps:
            steps += fraction_steps
        else:
            steps += _stage_steps(tree, language)
    else:
        problem = tex(sympy.UnevaluatedExpr(expr)) if not expr.is_Atom else tex(expr)
        value = expr
    value = sympy.nsimplify(value) if value.is_Float else value
    if not value.is_finite or value.is_real is False:
        raise UnsupportedProblem("This calculation has no real value.")
    value_plain, value_latex = with_approximation(value)
    if value_plain != plain(value) or not steps or not steps[-1].latex.endswith(tex(value)):
        steps.append(Step(say("result" if value_plain == plain(value) else "decimal", language),
                          f"{problem} = {value_latex}", value_plain))
    reference = ReferenceAnswer("arithmetic", value_plain, "number", values=(value,))
    return Worked("arithmetic", say("title.arithmetic", language), problem, tuple(steps),
                  f"{problem} = {value_latex}", value_plain, reference)


def _evaluate(tree: Node) -> sympy.Expr:
    while tree.op != "num":
        tree = _reduce(tree)
    return _value(tree)


def _stage_steps(tree: Node, language: str) -> list[Step]:
    stages: list[Node] = []
    current = tree
    while current.op != "num":
        current = _reduce(current)
        stages.append(current)
    shown = [stage for stage in stages if to_latex(stage) != to_latex(tree)]
    if len(shown) > MAX_STAGES_SHOWN:
        shown = shown[: MAX_STAGES_SHOWN - 1] + shown[-1:]
    steps = []
    for index, stage in enumerate(shown):
        key = "inner_first" if index == 0 and len(shown) > 1 else "calculate"
        steps.append(Step(say(key, language), f"{to_latex(tree)} = {to_latex(stage)}", to_plain(stage)))
    return steps


def solve_percent(request: Request) -> Worked:
    language = request.language
    percent, whole = request.numbers["percent"], request.numbers["whole"]
    value = percent * whole / 100
    problem = rf"{tex(percent)}\% \cdot {tex(whole)}"
    steps = [
        Step(say("percent_means", language, p=plain(percent)), rf"{tex(percent)}\% = \frac{{{tex(percent)}}}{{100}}",
             f"{plain(percent)}/100"),
        Step(say("multiply", language), rf"\frac{{{tex(percent)}}}{{100}} \cdot {tex(whole)} = {tex(value)}",
             plain(value)),
    ]
    value_plain, value_latex = with_approximation(value)
    reference = ReferenceAnswer("arithmetic", value_plain, "number", values=(value,))
    return Worked("arithmetic", say("title.percent", language), problem, tuple(steps),
                  f"{problem} = {value_latex}", value_plain, reference)
