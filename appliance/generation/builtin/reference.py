"""The SymPy answer to a problem, kept for checking what a model says the answer is."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

# How a stated answer is compared with the reference:
#   roots       the set of real solutions of an equation (order and repetition ignored)
#   assignment  one value per variable of a system
#   set         the solution set of an inequality (or of an equation with infinitely many solutions)
#   number      one number (limits, definite integrals, arithmetic, geometry)
#   expression  a formula equal to the reference (derivatives, simplify, expand)
#   factored    an equivalent formula written as a product
#   antiderivative  a formula whose derivative matches (equal up to a constant)
COMPARISONS = ("roots", "assignment", "set", "number", "expression", "factored", "antiderivative")


@dataclass(frozen=True)
class ReferenceAnswer:
    kind: str
    answer_text: str
    comparison: str
    variables: tuple[sympy.Symbol, ...] = ()
    values: tuple[sympy.Expr, ...] = ()
    solution_set: sympy.Set | None = None
    expression: sympy.Expr | None = None
    # "none": no (real) solution; "all": every number / infinitely many; "dne": the limit does not exist.
    special: str = ""
