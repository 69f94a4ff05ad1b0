"""The built-in offline solver: SymPy solves, templates draw.

``solve(problem_text, language=None) -> BuiltinSolution`` recognises the
problem (equations, systems, inequalities, derivatives, integrals, limits,
simplify/expand/factor, arithmetic and percentages, plots, the Pythagorean
theorem, areas; request words in English, Spanish, Russian, German and
French), solves it with SymPy and writes a Manim scene narrated in the
problem's language. It raises ``UnsupportedProblem`` when it does not
understand, never a guess.

``reference_answer(problem_text)`` and ``answers_agree(stated, reference)``
check the answer a language model states against SymPy.
"""

from __future__ import annotations

from appliance.generation.builtin.answers import answers_agree
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.solve import KINDS, BuiltinSolution, reference_answer, solve

__all__ = ["KINDS", "BuiltinSolution", "ReferenceAnswer", "answers_agree", "reference_answer", "solve"]
