"""Coverage, render success and timings of the built-in solver on a fixed problem list.

    python bench/builtin_bench.py                  # coverage and generation time only (seconds)
    python bench/builtin_bench.py --render         # also render every solved problem in the sandbox
    python bench/builtin_bench.py --render --sample  # render one problem per kind

Prints figures; asserts nothing. Rendering needs Docker and the sandbox image
(``appliance sandbox build``); settings come from the environment as for the appliance.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import solve
from appliance.generation.builtin.solve import BuiltinSolution

# (problem, the kind it should be solved as; None: it should be refused)
PROBLEMS: list[tuple[str, str | None]] = [
    # linear equations
    ("Solve 2x + 3 = 11", "linear_equation"),
    ("What is x if 5x - 7 = 3x + 1?", "linear_equation"),
    ("Resuelve la ecuación 4(x - 2) = 2x + 6", "linear_equation"),
    ("Реши уравнение 3x + 5 = 2", "linear_equation"),
    ("Löse die Gleichung 3(x+1) = 2x - 5", "linear_equation"),
    ("Résous l'équation x/2 + 1 = 4", "linear_equation"),
    (r"Solve $\frac{x}{3} - 2 = 5$", "linear_equation"),
    # quadratic and other equations
    ("Solve x^2 - 5x + 6 = 0", "quadratic_equation"),
    ("x² − 2x − 1 = 0", "quadratic_equation"),
    ("Resuelve x^2 = 16", "quadratic_equation"),
    ("Реши квадратное уравнение 2x^2 + 3x - 2 = 0", "quadratic_equation"),
    ("Löse x(x-1) = 6", "quadratic_equation"),
    ("Résoudre x^2 + 1 = 0", "quadratic_equation"),
    ("Find the roots of x^2 - 9", "quadratic_equation"),
    ("Solve x^3 - 6x^2 + 11x - 6 = 0", "equation"),
    ("Resuelve sqrt(x + 1) = 3", "equation"),
    ("Реши уравнение 2^x = 8", "equation"),
    # systems
    ("Solve the system 2x + y = 5 and x - y = 1", "linear_system"),
    ("x+y=3; x-y=1", "linear_system"),
    ("Solve\n3x - 2y = 4\nx + y = 3", "linear_system"),
    ("Resuelve el sistema 2x + y = 5 y x - y = 1", "linear_system"),
    ("Реши систему: x + y = 10, x - y = 2", "linear_system"),
    ("Löse das Gleichungssystem 2x + 3y = 12 und x - y = 1", "linear_system"),
    ("Résous le système x + 2y = 7 et 3x - y = 0", "linear_system"),
    # inequalities
    ("Solve 2x - 5 < 3", "inequality"),
    ("Solve 3 - 2x ≥ 7", "inequality"),
    ("Resuelve la desigualdad x^2 - 4 > 0", "inequality"),
    ("Реши неравенство x^2 - 5x + 6 ≤ 0", "inequality"),
    ("Löse die Ungleichung 1 < 2x + 1 <= 7", "inequality"),
    ("Résous l'inéquation (x - 1)/(x + 2) > 0", "inequality"),
    # derivatives
    ("Find the derivative of x^3 + 2x", "derivative"),
    ("Differentiate sin(x) cos(x)", "derivative"),
    ("d/dx (x^2 + 1)^3", "derivative"),
    ("Calcula la derivada de e^(2x) / x", "derivative"),
    ("Найди производную функции y = x^2 sin x", "derivative"),
    ("Bestimme die Ableitung von f(x) = ln(x^2 + 1)", "derivative"),
    ("Calcule la dérivée seconde de x^4", "derivative"),
    # integrals
    ("Integrate 3x^2 + 2x", "indefinite_integral"),
    ("∫ x e^x dx", "indefinite_integral"),
    ("Calcula la integral de cos(x)", "indefinite_integral"),
    ("Найди интеграл 1/x dx", "indefinite_integral"),
    ("Berechne das Integral von sin(2x) dx", "indefinite_integral"),
    ("Integrate x^2 from 0 to 3", "definite_integral"),
    (r"\int_0^{\pi} \sin x \, dx", "definite_integral"),
    (r"Вычисли $\int_1^2 (2x + 1)\,dx$", "definite_integral"),
    ("Berechne das Integral von e^x von 0 bis 1", "definite_integral"),
    ("Calcule l'intégrale de 1/x sur [1, 2]", "definite_integral"),
    # limits
    (r"\lim_{x \to 0} \frac{\sin x}{x}", "limit"),
    ("Find the limit of (x^2 - 4)/(x - 2) as x approaches 2", "limit"),
    ("Calcula el límite de (3x^2 + 1)/(x^2 - 5) cuando x tiende a infinito", "limit"),
    ("Найди предел (1 - cos x)/x^2 при x -> 0", "limit"),
    ("Berechne den Grenzwert von (1+1/x)^x für x gegen unendlich", "limit"),
    ("Calcule la limite de x^2 + 3 quand x tend vers 1", "limit"),
    # simplify / expand / factor
    ("Simplify (x^2 - 1)/(x - 1)", "simplify"),
    ("Simplifica sin(x)^2 + cos(x)^2", "simplify"),
    ("Упрости (x^2 + 2x + 1)/(x + 1)", "simplify"),
    ("Expand (x+2)(x-3)", "expand"),
    ("Expande (2x - 1)^2", "expand"),
    ("Раскрой скобки 3x(x - 4)", "expand"),
    ("Développe (x + 5)(x - 5)", "expand"),
    ("Factor x^2 - 5x + 6", "factor"),
    ("Factoriza x^2 - 9", "factor"),
    ("Faktorisiere x^2 + 6x + 9", "factor"),
    ("Factorise x^3 - x", "factor"),
    # arithmetic
    ("What is 3/4 + 5/6?", "arithmetic"),
    ("Compute (3 + 4) * 5 - 6 / 2", "arithmetic"),
    ("Calcula 2^10 - 24", "arithmetic"),
    ("Вычисли 1/2 - 1/3", "arithmetic"),
    ("Berechne 12 : 4 + 2 · 3", "arithmetic"),
    ("What is 15% of 80?", "arithmetic"),
    ("¿Cuánto es el 20% de 150?", "arithmetic"),
    # plots
    ("Plot y = x^2 - 4", "plot"),
    ("Grafica f(x) = x^3 - 3x", "plot"),
    ("Построй график y = sin(x)", "plot"),
    ("Zeichne den Graphen von f(x) = 1/x", "plot"),
    ("Trace la courbe de f(x) = e^x", "plot"),
    # geometry
    ("Find the hypotenuse of a right triangle with legs 3 and 4", "pythagorean"),
    ("La hipotenusa mide 13 y un cateto 5. Halla el otro cateto.", "pythagorean"),
    ("Катеты прямоугольного треугольника равны 6 и 8. Найди гипотенузу.", "pythagorean"),
    ("Die Hypotenuse ist 10 und eine Kathete 6. Wie lang ist die andere Kathete?", "pythagorean"),
    ("A rectangle has width 3 and length 5. What is its area?", "area"),
    ("What is the area of a circle with radius 5?", "area"),
    ("Calcula el área de un círculo de radio 2", "area"),
    ("Площадь круга радиусом 5 см", "area"),
    ("Berechne den Flächeninhalt eines Rechtecks mit Breite 4 und Länge 2,5", "area"),
    ("Quelle est l'aire d'un triangle de base 6 et de hauteur 4 ?", "area"),
    # phrasings not used by the unit tests
    ("Solve for x: 7x - 2 = 3x + 10", "linear_equation"),
    ("If 3x = 12, what is x?", "linear_equation"),
    ("Найдите корни уравнения x^2 - 7x + 10 = 0", "quadratic_equation"),
    ("Quelle est la solution de 3x - 4 = 11 ?", "linear_equation"),
    ("What is the derivative of ln(x)?", "derivative"),
    ("Ableitung von cos(3x)", "derivative"),
    ("Evaluate ∫₀¹ x² dx", "definite_integral"),
    ("Stammfunktion von x^3", "indefinite_integral"),
    ("What is lim x->3 (x^2 - 9)/(x - 3)?", "limit"),
    ("Expand (a+b)^2", "expand"),
    ("Draw y = x^2", "plot"),
    ("Find the area of a rectangle 4 m by 6 m", "area"),
    ("Сторона квадрата 5 см. Найди площадь.", "area"),
    ("Un rectángulo mide 3 de ancho y 7 de largo. ¿Cuál es su área?", "area"),
    ("Was ist 25% von 200?", "arithmetic"),
    ("Combien font 3/5 de 40 ?", "arithmetic"),
    ("|x - 3| < 2", "inequality"),
    ("Solve |2x - 1| = 5", "equation"),
    # to be refused
    ("Tell me a joke", None),
    ("What is the capital of France?", None),
    ("Prove that there are infinitely many primes", None),
    ("x^2 + 3x", None),
    ("Solve x + y = 3", None),
    ("Solve sin(x) = 1/2", None),
    ("Integrate e^(x^2)", None),
    ("Integrate 1/x from -1 to 1", None),
    ("What is the perimeter of a rectangle with sides 3 and 5?", None),
    ("__import__('os').system('id')", None),
    ("Calculate 2^100000", None),
    ("Integrate sin(x)^7 cos(x)^5", None),  # SymPy would take minutes: the deadline refuses it
    ("Combien font 3/5 de 40 pommes et 2 poires ?", None),  # numbers outside the formula
    ("John has 3 apples and buys 5 more. How many does he have?", None),
    ("a" * 5000, None),
]


@dataclass
class Outcome:
    problem: str
    expected: str | None
    solution: BuiltinSolution | None
    refusal: str
    generation_s: float
    render_s: float | None = None
    rendered_ok: bool | None = None


def run_generation() -> list[Outcome]:
    outcomes = []
    for problem, expected in PROBLEMS:
        started = time.perf_counter()
        try:
            solution: BuiltinSolution | None = solve(problem)
            refusal = ""
        except UnsupportedProblem as exc:
            solution, refusal = None, str(exc)
        outcomes.append(Outcome(problem, expected, solution, refusal, time.perf_counter() - started))
    return outcomes


def run_renders(outcomes: list[Outcome], sample: bool) -> None:
    from appliance.config import Settings
    from appliance.sandbox.connection import open_local_client
    from appliance.sandbox.docker import DockerSandbox

    settings = Settings.from_env()
    sandbox = DockerSandbox(settings, open_local_client())
    sandbox.check_image()
    seen: set[str] = set()
    try:
        for outcome in outcomes:
            if outcome.solution is None or (sample and outcome.solution.kind in seen):
                continue
            seen.add(outcome.solution.kind)
            started = time.perf_counter()
            result = sandbox.render(outcome.solution.code, outcome.solution.scene_name, quality="low")
            outcome.render_s = time.perf_counter() - started
            outcome.rendered_ok = result.ok
            if result.video_path is not None:
                result.video_path.unlink(missing_ok=True)
            mark = "ok" if result.ok else f"FAILED {result.status}: {result.stderr_tail[-300:]}"
            print(f"  render {outcome.solution.kind:20} {outcome.render_s:5.1f} s  {mark}", flush=True)
    finally:
        sandbox.close()


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def report(outcomes: list[Outcome]) -> None:
    should_solve = [o for o in outcomes if o.expected is not None]
    should_refuse = [o for o in outcomes if o.expected is None]
    solved_right = [o for o in should_solve if o.solution is not None and o.solution.kind == o.expected]
    wrong_kind = [o for o in should_solve if o.solution is not None and o.solution.kind != o.expected]
    refused_wrongly = [o for o in should_solve if o.solution is None]
    refused_right = [o for o in should_refuse if o.solution is None]
    answered_wrongly = [o for o in should_refuse if o.solution is not None]
    print(f"problems: {len(outcomes)} ({len(should_solve)} solvable, {len(should_refuse)} to refuse)")
    solved_share = percent(len(solved_right), len(should_solve))
    refused_share = percent(len(refused_right), len(should_refuse))
    print(f"solved as the expected kind: {len(solved_right)}/{len(should_solve)} ({solved_share})")
    print(f"refused as expected:         {len(refused_right)}/{len(should_refuse)} ({refused_share})")
    print(f"overall refused:             {percent(sum(o.solution is None for o in outcomes), len(outcomes))}")
    for o in wrong_kind:
        assert o.solution is not None
        print(f"  wrong kind: {o.problem[:60]!r}: {o.solution.kind}, expected {o.expected}")
    for o in refused_wrongly:
        print(f"  refused:    {o.problem[:60]!r}: {o.refusal}")
    for o in answered_wrongly:
        assert o.solution is not None
        print(f"  answered:   {o.problem[:60]!r}: {o.solution.kind} {o.solution.answer_text}")
    times = [o.generation_s for o in outcomes if o.solution is not None]
    refusal_times = [o.generation_s for o in outcomes if o.solution is None]
    if times:
        times.sort()
        print(f"generation time: median {statistics.median(times) * 1000:.0f} ms, "
              f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")
    if refusal_times:
        print(f"refusal time:    median {statistics.median(refusal_times) * 1000:.0f} ms, "
              f"max {max(refusal_times) * 1000:.0f} ms")
    rendered = [o for o in outcomes if o.rendered_ok is not None]
    if rendered:
        ok = [o for o in rendered if o.rendered_ok]
        render_times = [o.render_s for o in rendered if o.render_s is not None]
        end_to_end = [o.generation_s + (o.render_s or 0) for o in ok]
        print(f"render success: {len(ok)}/{len(rendered)} ({percent(len(ok), len(rendered))})")
        print(f"render time (low quality): median {statistics.median(render_times):.1f} s")
        if end_to_end:
            print(f"end to end (generate + render): median {statistics.median(end_to_end):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", action="store_true", help="render solved problems in the sandbox")
    parser.add_argument("--sample", action="store_true", help="with --render: one problem per kind")
    args = parser.parse_args()
    solve("Solve 2x + 3 = 11")  # import and first-call costs are not the solver's per-problem time
    outcomes = run_generation()
    if args.render:
        run_renders(outcomes, args.sample)
    report(outcomes)


if __name__ == "__main__":
    main()
