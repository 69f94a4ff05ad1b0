"""The built-in solver's front door: problem text -> ``BuiltinSolution``.

No model and no network: the problem is recognised (``kinds``), solved with
SymPy by the module for its kind, and drawn by a template (``templates``).
Anything it does not understand raises ``UnsupportedProblem`` with a reason
a person can act on; SymPy's own exceptions never leave this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import algebra, arithmetic, calculus, equations, geometry, graphing, templates
from appliance.generation.builtin.bounded import run_bounded
from appliance.generation.builtin.kinds import Request, recognise
from appliance.generation.builtin.language import detect_language, normalise_language
from appliance.generation.builtin.parse import check_length
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import Worked

log = logging.getLogger(__name__)

KINDS = (
    "linear_equation", "quadratic_equation", "equation", "linear_system", "inequality", "derivative",
    "indefinite_integral", "definite_integral", "limit", "simplify", "expand", "factor", "arithmetic", "plot",
    "pythagorean", "area",
)

_SOLVERS: dict[str, Callable[[Request], Worked]] = {
    "equation": equations.solve_equation,
    "linear_system": equations.solve_system,
    "inequality": equations.solve_inequality,
    "derivative": calculus.solve_derivative,
    "indefinite_integral": calculus.solve_indefinite_integral,
    "definite_integral": calculus.solve_definite_integral,
    "limit": calculus.solve_limit,
    "simplify": algebra.solve_simplify,
    "expand": algebra.solve_expand,
    "factor": algebra.solve_factor,
    "arithmetic": arithmetic.solve_arithmetic,
    "percent": arithmetic.solve_percent,
    "plot": graphing.solve_plot,
    "pythagorean": geometry.solve_pythagorean,
    "area": geometry.solve_area,
}


@dataclass(frozen=True)
class BuiltinSolution:
    kind: str
    language: str
    answer_text: str
    steps: list[str]
    code: str
    scene_name: str = templates.SCENE_NAME
    narration: list[str] = field(default_factory=list)  # what the scene says, in order


def work(problem_text: str, language: str | None = None) -> tuple[Worked, str]:
    """The worked solution and the language it is narrated in."""
    text = check_length(problem_text)
    chosen = normalise_language(language) or detect_language(text)
    request = recognise(text, chosen)
    try:
        return _SOLVERS[request.kind](request), chosen
    except UnsupportedProblem:
        raise
    except (ArithmeticError, ValueError, TypeError, AttributeError, NotImplementedError, RecursionError,
            IndexError, KeyError, AssertionError) as exc:
        # SymPy has many ways to fail on odd input; none of them may become a wrong video.
        log.info("built-in solver gave up on %r: %s: %s", text[:80], type(exc).__name__, exc)
        raise UnsupportedProblem("The built-in solver could not work this problem out.") from exc


def solve(problem_text: str, language: str | None = None) -> BuiltinSolution:
    """Solve a problem and write the Manim scene that explains it (in a child process with a deadline)."""
    solution: BuiltinSolution = run_bounded(solve_in_process, problem_text, language)
    return solution


def solve_in_process(problem_text: str, language: str | None = None) -> BuiltinSolution:
    """``solve`` without the child process: no deadline, for the child itself and for debugging."""
    check_length(problem_text)  # cheap refusals need no process
    worked, chosen = work(problem_text, language)
    code = templates.scene_code(worked, chosen)
    return BuiltinSolution(
        kind=worked.kind,
        language=chosen,
        answer_text=worked.answer_text,
        steps=[step.as_text() for step in worked.steps],
        code=code,
        narration=templates.narration_texts(worked, chosen),
    )


def reference_answer(problem_text: str) -> ReferenceAnswer | None:
    """The built-in solver's answer to a problem, or None when it cannot solve it (or not in time)."""
    try:
        check_length(problem_text)
        answer: ReferenceAnswer | None = run_bounded(reference_in_process, problem_text)
    except UnsupportedProblem:
        return None
    return answer


def reference_in_process(problem_text: str) -> ReferenceAnswer | None:
    try:
        worked, _ = work(problem_text)
    except UnsupportedProblem:
        return None
    return worked.reference
