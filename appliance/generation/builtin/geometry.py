"""The Pythagorean theorem and areas of circles, rectangles, squares and triangles."""

from __future__ import annotations

import sympy

from appliance.generation.builtin.kinds import Request
from appliance.generation.builtin.language import say
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.builtin.worked import (
    ShapeFigure,
    Step,
    TriangleFigure,
    Worked,
    plain,
    tex,
    with_approximation,
)


def _unit_suffix(unit: str, power: int) -> tuple[str, str]:
    """(plain, LaTeX) unit: LaTeX only for ASCII units (MathTex has no Cyrillic fonts)."""
    if not unit:
        return "", ""
    exponent = "²" if power == 2 else ""
    latex = rf"\ \text{{{unit}}}" + ("^2" if power == 2 else "") if unit.isascii() else ""
    return f" {unit}{exponent}", latex


def _measure(value: sympy.Expr, unit: str, squared: bool = False) -> str:
    """A length with its unit, bracketed when it is squared: (5 cm)^2; a bare number otherwise."""
    if unit and unit.isascii():
        shown = rf"{tex(value)}\,\text{{{unit}}}"
        return rf"\left({shown}\right)^2" if squared else shown
    return f"{tex(value)}^2" if squared else tex(value)


def solve_pythagorean(request: Request) -> Worked:
    language = request.language
    numbers = request.numbers
    unit = request.unit
    unit_plain, unit_latex = _unit_suffix(unit, 1)
    area_plain, area_latex = _unit_suffix(unit, 2)
    steps = [Step(say("pythagoras", language), "a^2 + b^2 = c^2", "a² + b² = c²")]
    if "hypotenuse" in numbers:
        c, a = numbers["hypotenuse"], numbers["leg"]
        square = c**2 - a**2
        b = sympy.sqrt(square)
        steps.append(Step(say("solve_for_leg", language), "b^2 = c^2 - a^2", "b² = c² - a²"))
        steps.append(Step(say("substitute_values", language),
                          rf"b^2 = {_measure(c, unit, True)} - {_measure(a, unit, True)} = {tex(c**2)} - {tex(a**2)}"
                          rf" = {tex(square)}{area_latex}",
                          f"b² = {plain(c)}² - {plain(a)}² = {plain(square)}{area_plain}"))
        unknown, value, legs = "b", b, (a, b)
        labels = (f"a = {tex(a)}", "b = ?", f"c = {tex(c)}")
    else:
        a, b = numbers["leg_a"], numbers["leg_b"]
        square = a**2 + b**2
        c = sympy.sqrt(square)
        steps.append(Step(say("substitute_values", language),
                          rf"c^2 = {_measure(a, unit, True)} + {_measure(b, unit, True)} = {tex(a**2)} + {tex(b**2)}"
                          rf" = {tex(square)}{area_latex}",
                          f"c² = {plain(a)}² + {plain(b)}² = {plain(square)}{area_plain}"))
        unknown, value, legs = "c", c, (a, b)
        labels = (f"a = {tex(a)}", f"b = {tex(b)}", "c = ?")
    value_plain, value_latex = with_approximation(value)
    shown = rf"\sqrt{{{tex(square)}{area_latex}}} = {value_latex if not value.is_Integer else tex(value)}"
    if value_latex.startswith(rf"\sqrt{{{tex(square)}}}"):
        shown = value_latex  # √2 ≈ 1.414: the root is already the simplest form
    steps.append(Step(say("take_root", language), f"{unknown} = {shown}{unit_latex}",
                      f"{unknown} = {value_plain}{unit_plain}"))
    text = f"{unknown} = {value_plain}{unit_plain}"
    latex = f"{unknown} = {value_latex}{unit_latex}"
    reference = ReferenceAnswer("pythagorean", text, "number", values=(value,))
    figure = TriangleFigure(float(legs[0]), float(legs[1]), *labels, unknown=unknown)
    problem = r",\quad ".join(label for label in labels)
    return Worked("pythagorean", say("title.pythagorean", language), problem, tuple(steps), latex, text,
                  reference, figure, figure_first=True)


def solve_area(request: Request) -> Worked:
    if request.measure == "perimeter":
        return _solve_perimeter(request)
    language = request.language
    numbers = request.numbers
    unit_plain, unit_latex = _unit_suffix(request.unit, 2)
    _, length_latex = _unit_suffix(request.unit, 1)
    steps: list[Step] = []
    shape = request.shape
    if shape == "circle":
        if "diameter" in numbers:
            radius = numbers["diameter"] / 2
            steps.append(Step(say("diameter_to_radius", language),
                              rf"r = \frac{{d}}{{2}} = \frac{{{tex(numbers['diameter'])}}}{{2}} = {tex(radius)}",
                              f"r = {plain(radius)}"))
        else:
            radius = numbers["radius"]
        area = sympy.pi * radius**2
        steps.append(Step(say("area_formula", language), r"A = \pi r^2", "A = πr²"))
        substituted = rf"A = \pi \cdot {_measure(radius, request.unit, True)} = {tex(area)}{unit_latex}"
        figure = ShapeFigure("circle", float(radius), float(radius), (f"r = {tex(radius)}{length_latex}",))
        problem = f"r = {tex(radius)}{length_latex}" if "radius" in numbers else \
            f"d = {tex(numbers['diameter'])}{length_latex}"
    elif shape == "square":
        side = numbers["side"]
        area = side**2
        steps.append(Step(say("area_formula", language), r"A = a^2", "A = a²"))
        substituted = rf"A = {_measure(side, request.unit, True)} = {tex(area)}{unit_latex}"
        figure = ShapeFigure("square", float(side), float(side), (f"a = {tex(side)}{length_latex}",))
        problem = f"a = {tex(side)}{length_latex}"
    elif shape == "rectangle":
        width, length = numbers["width"], numbers["length"]
        area = width * length
        steps.append(Step(say("area_formula", language), r"A = a \cdot b", "A = a · b"))
        substituted = (rf"A = {_measure(width, request.unit)} \cdot {_measure(length, request.unit)} = "
                       rf"{tex(area)}{unit_latex}")
        figure = ShapeFigure("rectangle", float(length), float(width),
                             (f"{tex(length)}{length_latex}", f"{tex(width)}{length_latex}"))
        problem = rf"a = {tex(width)}{length_latex},\quad b = {tex(length)}{length_latex}"
    else:
        base, height = numbers["base"], numbers["height"]
        area = base * height / 2
        steps.append(Step(say("area_formula", language), r"A = \frac{1}{2}\, b\, h", "A = ½ · b · h"))
        substituted = (rf"A = \frac{{1}}{{2}} \cdot {_measure(base, request.unit)} \cdot "
                       rf"{_measure(height, request.unit)} = {tex(area)}{unit_latex}")
        figure = ShapeFigure("triangle", float(base), float(height),
                             (f"b = {tex(base)}{length_latex}", f"h = {tex(height)}{length_latex}"))
        problem = rf"b = {tex(base)}{length_latex},\quad h = {tex(height)}{length_latex}"
    value_plain, value_latex = with_approximation(area)
    steps.append(Step(say("substitute_values", language), substituted, f"A = {plain(area)}{unit_plain}"))
    text = f"A = {value_plain}{unit_plain}"
    latex = f"A = {value_latex}{unit_latex}"
    if value_plain != plain(area):
        steps.append(Step(say("result", language), latex, text))
    reference = ReferenceAnswer("area", text, "number", values=(area,))
    return Worked("area", say(f"title.area.{shape}", language), problem, tuple(steps), latex, text, reference,
                  figure, figure_first=True)


def _solve_perimeter(request: Request) -> Worked:
    """The perimeter of a square or rectangle, or a circle's circumference: formula, the
    lengths put in with their unit, the result (with a decimal when it has π)."""
    language = request.language
    numbers, unit, shape = request.numbers, request.unit, request.shape
    unit_plain, unit_latex = _unit_suffix(unit, 1)
    if shape == "circle":
        name = "C"
        if "diameter" in numbers:
            diameter = numbers["diameter"]
            perimeter = sympy.pi * diameter
            formula, formula_plain = r"C = \pi d", "C = πd"
            substituted = rf"C = \pi \cdot {_measure(diameter, unit)} = {tex(perimeter)}{unit_latex}"
            problem = f"d = {tex(diameter)}{unit_latex}"
            figure = ShapeFigure("circle", float(diameter / 2), float(diameter / 2), (problem,), outline=True)
        else:
            radius = numbers["radius"]
            perimeter = 2 * sympy.pi * radius
            formula, formula_plain = r"C = 2 \pi r", "C = 2πr"
            substituted = rf"C = 2 \pi \cdot {_measure(radius, unit)} = {tex(perimeter)}{unit_latex}"
            problem = f"r = {tex(radius)}{unit_latex}"
            figure = ShapeFigure("circle", float(radius), float(radius), (problem,), outline=True)
    elif shape == "square":
        name, side = "P", numbers["side"]
        perimeter = 4 * side
        formula, formula_plain = r"P = 4a", "P = 4a"
        substituted = rf"P = 4 \cdot {_measure(side, unit)} = {tex(perimeter)}{unit_latex}"
        problem = f"a = {tex(side)}{unit_latex}"
        figure = ShapeFigure("square", float(side), float(side), (problem,), outline=True)
    else:
        name, width, length = "P", numbers["width"], numbers["length"]
        perimeter = 2 * (width + length)
        formula, formula_plain = r"P = 2\,(a + b)", "P = 2(a + b)"
        substituted = (rf"P = 2 \cdot \left({_measure(width, unit)} + {_measure(length, unit)}\right) = "
                       rf"2 \cdot {tex(width + length)}{unit_latex} = {tex(perimeter)}{unit_latex}")
        problem = rf"a = {tex(width)}{unit_latex},\quad b = {tex(length)}{unit_latex}"
        figure = ShapeFigure("rectangle", float(length), float(width),
                             (f"{tex(length)}{unit_latex}", f"{tex(width)}{unit_latex}"), outline=True)
    key = "circumference_formula" if shape == "circle" else "perimeter_formula"
    steps = [Step(say(key, language), formula, formula_plain),
             Step(say("substitute_values", language), substituted, f"{name} = {plain(perimeter)}{unit_plain}")]
    value_plain, value_latex = with_approximation(perimeter)
    text = f"{name} = {value_plain}{unit_plain}"
    latex = f"{name} = {value_latex}{unit_latex}"
    if value_plain != plain(perimeter):
        steps.append(Step(say("result", language), latex, text))
    reference = ReferenceAnswer("area", text, "number", values=(perimeter,))
    return Worked("area", say(f"title.perimeter.{shape}", language), problem, tuple(steps), latex, text,
                  reference, figure, figure_first=True)
