"""Worked steps for derivatives, integrals and limits, read the way a mathematics teacher reads them."""

from __future__ import annotations

from appliance.generation.builtin.solve import work
from appliance.generation.builtin.worked import Step, Worked


def worked(problem: str, language: str | None = None) -> Worked:
    result, _ = work(problem, language)
    return result


def latex_lines(result: Worked) -> list[str]:
    return [step.latex for step in result.steps]


def step_with(steps: tuple[Step, ...], fragment: str) -> Step:
    for step in steps:
        if fragment in step.latex:
            return step
    raise AssertionError(f"no step shows {fragment!r}: {[step.latex for step in steps]}")


# -- derivatives -----------------------------------------------------------------------------------


def test_the_product_rule_names_u_v_and_their_derivatives_then_puts_them_in() -> None:
    result = worked("Find the derivative of x^3 sin(x)")
    lines = latex_lines(result)
    assert lines[0] == r"(u\,v)' = u'\,v + u\,v'"
    assert "product rule" in result.steps[0].say
    u, v = lines.index("u = x^{3}"), next(i for i, line in enumerate(lines) if line.startswith(r"v = \sin"))
    du = lines.index("u' = 3 x^{2}")
    dv = next(i for i, line in enumerate(lines) if line.startswith(r"v' = \cos"))
    assert u < v < du < dv
    assert "Power rule" in result.steps[du].say
    put = step_with(result.steps, r"3 x^{2} \cdot \sin")
    assert r"x^{3} \cdot \cos" in put.latex
    assert lines.index(put.latex) > dv
    assert lines[-1] == result.answer_latex  # ends on the answer, simplified


def test_the_quotient_rule_substitutes_into_u_prime_v_minus_u_v_prime_over_v_squared() -> None:
    result = worked("Calcula la derivada de e^(2x) / x")
    put = step_with(result.steps, r"\frac{2 e^{2 x} \cdot x - e^{2 x} \cdot 1}{x^{2}}")
    assert put.say == "Sustituimos u, v y sus derivadas en la regla"
    assert "Regla de la cadena" in step_with(result.steps, "u' = 2 e^{2 x}").say


def test_the_chain_rule_shows_the_inner_and_outer_function_and_their_derivatives() -> None:
    result = worked("d/dx (x^2 + 1)^3")
    step_with(result.steps, r"u = x^{2} + 1,\quad u' = 2 x")
    step_with(result.steps, r"g(u) = u^{3},\quad g'(u) = 3 u^{2}")
    step_with(result.steps, r"f'(x) = 3 \left(x^{2} + 1\right)^{2} \cdot 2 x")
    assert result.steps[-1].latex == result.answer_latex


def test_a_sum_is_differentiated_term_by_term() -> None:
    lines = latex_lines(worked("Find the derivative of x^3 + 2x"))
    assert lines == [r"f'(x) = \left(x^{3}\right)' + \left(2 x\right)'", "f'(x) = 3 x^{2} + 2"]


def test_a_derivative_at_a_point_substitutes_the_point() -> None:
    result = worked("Find the derivative of x^3 at x = 2")
    assert result.steps[-1].latex == r"f'(2) = 3 \cdot 2^{2} = 12"
    assert result.answer_text == "f'(2) = 12"


def test_a_second_derivative_differentiates_the_first_once_more() -> None:
    result = worked("Calcule la dérivée seconde de x^4")
    assert latex_lines(result) == ["f'(x) = 4 x^{3}", "f''(x) = 12 x^{2}"]
    assert result.steps[1].say.startswith("Dérivons encore une fois")


# -- integrals -------------------------------------------------------------------------------------


def test_an_integral_of_a_sum_goes_term_by_term_by_the_power_rule_and_is_checked() -> None:
    result = worked("Integrate 3x^2 + 2x")
    head = r"\int \left(3 x^{2} + 2 x\right)\,dx = "
    assert latex_lines(result)[:3] == [
        head + r"3 \int x^{2}\,dx + 2 \int x\,dx",
        head + r"3 \cdot \frac{x^{3}}{3} + 2 \cdot \frac{x^{2}}{2} + C",
        head + "x^{3} + x^{2} + C",
    ]
    assert "Power rule" in result.steps[1].say
    assert result.steps[-1].latex == r"\left(x^{3} + x^{2}\right)' = 3 x^{2} + 2 x\ \checkmark"


def test_integration_by_parts_names_u_and_dv() -> None:
    result = worked("∫ x e^x dx")
    step_with(result.steps, r"u = x,\quad dv = e^{x}\,dx")
    step_with(result.steps, r"du = dx,\quad v = e^{x}")
    step_with(result.steps, r"\int x e^{x}\,dx = x e^{x} - \int e^{x}\,dx")


def test_a_substitution_names_u_and_du_and_goes_back_to_x() -> None:
    result = worked("Berechne das Integral von sin(2x) dx")
    step_with(result.steps, r"u = 2 x,\quad du = 2\,dx")
    step_with(result.steps, r"\int \frac{\sin u}{2}\,du")
    assert result.steps[-1].say.startswith("Probe")


def test_a_definite_integral_substitutes_both_limits_into_the_antiderivative() -> None:
    result = worked("Integrate x^2 from 0 to 3")
    assert result.steps[0].latex == r"\int x^{2}\,dx = \frac{x^{3}}{3} + C"
    assert result.steps[-1].latex == (r"\int_{0}^{3} x^{2}\,dx = F(3) - F(0) = \frac{3^{3}}{3} - \frac{0^{3}}{3}"
                                      r" = 9 - 0 = 9")
    assert worked(r"\int_0^{\pi} \sin x \, dx").steps[-1].latex.endswith(
        r"= - \cos \pi - \left(- \cos 0\right) = 1 - \left(-1\right) = 2")


# -- limits ------------------------------------------------------------------------------------------


def test_zero_over_zero_is_shown_then_the_factor_cancelled_then_the_point_substituted() -> None:
    lines = latex_lines(worked("Find the limit of (x^2 - 4)/(x - 2) as x approaches 2"))
    assert lines == [
        r"\frac{2^{2} - 4}{2 - 2} = \frac{0}{0}",
        r"\lim_{x \to 2} \frac{\left(x - 2\right) \left(x + 2\right)}{x - 2} = \lim_{x \to 2} \left(x + 2\right)",
        r"\lim_{x \to 2} \left(x + 2\right) = 2 + 2 = 4",
    ]


def test_lhopital_is_applied_again_while_the_form_stays_zero_over_zero() -> None:
    result = worked("Найди предел (1 - cos x)/x^2 при x -> 0")
    says = [step.say for step in result.steps]
    assert says[0].startswith("Подстановка даёт ноль на ноль")
    assert says[1].startswith("Правило Лопиталя")
    assert says[2].startswith("Снова ноль на ноль")
    assert result.steps[-1].latex.endswith(r"= \frac{\cos 0}{2} = \frac{1}{2}")


def test_known_limits_and_limits_at_infinity_say_what_they_use() -> None:
    assert "known limit" in worked(r"\lim_{x \to 0} \frac{\sin x}{x}").steps[-1].say
    steps = worked("Calcula el límite de (3x^2 + 1)/(x^2 - 5) cuando x tiende a infinito").steps
    assert r"\frac{3 + \frac{1}{x^{2}}}{1 - \frac{5}{x^{2}}}" in steps[0].latex
    assert steps[1].latex.endswith(r"= \frac{3 + 0}{1 - 0} = 3")


def test_a_continuous_function_is_just_substituted() -> None:
    steps = worked("Calcule la limite de x^2 + 3 quand x tend vers 1").steps
    assert [step.latex for step in steps] == [r"\lim_{x \to 1} \left(x^{2} + 3\right) = 1^{2} + 3 = 4"]
