"""Each model-free repair: the code a model wrote -> the code that renders with Manim 0.19.

Every case checks the repaired source (what a person reading it would see), that
it compiles, and that the repair is named in ``repairs``.
"""

from __future__ import annotations

import textwrap

import pytest

from appliance.errors import CodeRejected
from appliance.validation import ValidatedScene, validate_and_repair
from tests.corpus import corpus_rows


def scene_body(body: str, header: str = "from manim import *\n", base: str = "Scene") -> str:
    lines = textwrap.indent(textwrap.dedent(body).strip(), " " * 8)
    return f"{header}\nclass SolutionScene({base}):\n    def construct(self):\n{lines}\n"


def repaired(code: str) -> ValidatedScene:
    scene = validate_and_repair(code)
    compile(scene.code, "scene.py", "exec")
    return scene


def construct_source(scene: ValidatedScene) -> str:
    """The repaired construct() body, dedented, for exact comparisons."""
    marker = "def construct(self):\n"
    body = scene.code.split(marker, 1)[1]
    lines = []
    for line in body.splitlines():
        if line and not line.startswith("        "):
            break
        lines.append(line[8:])
    return "\n".join(lines).strip()


# -- renamed classes ----------------------------------------------------------------------


def test_show_creation_becomes_create() -> None:
    scene = repaired(scene_body("c = Circle()\nself.play(ShowCreation(c))"))
    assert construct_source(scene) == "c = Circle()\nself.play(Create(c))"
    assert "ShowCreation -> Create" in scene.repairs


def test_text_mobject_plain_becomes_text() -> None:
    scene = repaired(scene_body("t = TextMobject('Hello')\nself.play(Write(t))"))
    assert construct_source(scene) == "t = Text('Hello')\nself.play(Write(t))"
    assert "TextMobject -> Text" in scene.repairs


def test_text_mobject_with_math_or_several_parts_becomes_tex() -> None:
    scene = repaired(scene_body("a = TextMobject('Area $= \\\\pi r^2$')\nb = TextMobject('a', 'b')\nself.add(a, b)"))
    assert construct_source(scene).startswith("a = Tex('Area $= \\\\pi r^2$')\nb = Tex('a', 'b')")
    assert "TextMobject -> Tex" in scene.repairs


def test_tex_mobject_with_several_args_becomes_math_tex() -> None:
    scene = repaired(scene_body("eq = TexMobject('x', '^2', '=', '4')\nself.play(Write(eq))"))
    assert construct_source(scene) == "eq = MathTex('x', '^2', '=', '4')\nself.play(Write(eq))"
    assert "TexMobject -> MathTex" in scene.repairs


def test_math_tex_loses_dollar_signs() -> None:
    scene = repaired(scene_body("eq = MathTex('$x^2$')\nself.play(Write(eq))"))
    assert construct_source(scene) == "eq = MathTex('x^2')\nself.play(Write(eq))"


def test_tex_with_only_a_formula_becomes_math_tex() -> None:
    scene = repaired(scene_body("eq = Tex('x^2 + \\\\frac{1}{2}')\nwords = Tex('Hello world')\nself.add(eq, words)"))
    source = construct_source(scene)
    assert "eq = MathTex('x^2 + \\\\frac{1}{2}')" in source
    assert "words = Tex('Hello world')" in source


def test_text_size_becomes_font_size() -> None:
    scene = repaired(scene_body("t = Text('hi', size=0.5)\nself.play(Write(t))"))
    assert construct_source(scene) == "t = Text('hi', font_size=24)\nself.play(Write(t))"


@pytest.mark.parametrize(
    "old, new",
    [
        ("FadeInFrom(t, LEFT)", "FadeIn(t, shift=-LEFT)"),
        ("FadeInFrom(t, direction=-UP)", "FadeIn(t, shift=UP)"),
        ("FadeInFrom(t)", "FadeIn(t, shift=-DOWN)"),
        ("FadeInFromDown(t)", "FadeIn(t, shift=UP)"),
        ("FadeOutAndShift(t, RIGHT, run_time=2)", "FadeOut(t, run_time=2, shift=RIGHT)"),
        ("FadeOutAndShiftDown(t)", "FadeOut(t, shift=DOWN)"),
        ("FadeInFromLarge(t, 3)", "FadeIn(t, scale=3)"),
        ("FadeInFromPoint(t, ORIGIN)", "FadeIn(t, target_position=ORIGIN)"),
        ("CircleIndicate(t)", "Circumscribe(t, shape=Circle)"),
        ("ShowCreationThenDestruction(t)", "ShowPassingFlash(t, time_width=2.0)"),
        ("ShowCreationThenFadeOut(t)", "Succession(Create(t), FadeOut(t))"),
        ("WiggleOutThenIn(t)", "Wiggle(t)"),
        ("ApplyMethod(t.shift, UP)", "t.animate.shift(UP)"),
        ("ApplyMethod(t.set_color, RED, run_time=2)", "t.animate(run_time=2).set_color(RED)"),
        ("GrowFromCenter(t)", "GrowFromCenter(t)"),
    ],
)
def test_removed_animations_become_current_ones(old: str, new: str) -> None:
    scene = repaired(scene_body(f"t = Square()\nself.play({old})"))
    assert construct_source(scene) == f"t = Square()\nself.play({new})"
    assert scene.repairs or old == new


def test_method_style_play_becomes_animate() -> None:
    scene = repaired(scene_body("d = Dot()\nself.play(d.shift, UP, d.set_color, RED, run_time=2)"))
    assert construct_source(scene) == (
        "d = Dot()\nself.play(d.animate.shift(UP), d.animate.set_color(RED), run_time=2)"
    )
    assert any(r.startswith("self.play(d.shift, ...)") for r in scene.repairs)


def test_method_style_play_stops_at_the_next_animation() -> None:
    scene = repaired(scene_body("d = Dot()\nself.play(d.move_to, 2 * RIGHT, FadeIn(Square()))"))
    assert construct_source(scene) == "d = Dot()\nself.play(d.animate.move_to(2 * RIGHT), FadeIn(Square()))"


def test_a_name_the_scene_defines_itself_is_left_alone() -> None:
    code = scene_body("self.play(ShowCreation(Circle()))", header="from manim import *\nShowCreation = Create\n")
    scene = repaired(code)
    assert "self.play(ShowCreation(Circle()))" in scene.code
    assert scene.repairs == []


# -- colours ------------------------------------------------------------------------------


def test_missing_colour_constants_become_hex_colours() -> None:
    scene = repaired(scene_body("c = Circle(color=CYAN, fill_color=BROWN)\nself.play(Create(c))"))
    assert construct_source(scene) == (
        "c = Circle(color=ManimColor('#00FFFF'), fill_color=ManimColor('#A52A2A'))\nself.play(Create(c))"
    )
    assert 'colour CYAN (not in Manim) -> ManimColor("#00FFFF")' in scene.repairs


def test_existing_colours_stay() -> None:
    code = scene_body("c = Circle(color=LIGHT_GREY, fill_color=DARK_BLUE)\nself.play(Create(c))")
    assert repaired(code).repairs == []


def test_colour_strings_manim_does_not_know_become_hex() -> None:
    scene = repaired(scene_body("c = Circle(color='cyan')\nc.set_fill('magenta', opacity=0.5)\nself.play(Create(c))"))
    assert construct_source(scene) == (
        "c = Circle(color='#00FFFF')\nc.set_fill('#FF00FF', opacity=0.5)\nself.play(Create(c))"
    )


# -- 2-D points ---------------------------------------------------------------------------


def test_two_d_point_literals_get_a_zero_z() -> None:
    body = """
        arrow = Arrow(start=(-2, 1), end=(-2, 0), color=YELLOW)
        line = Line((-2, -2), (2, 2))
        dot = Dot([1, 2])
        tri = Polygon((0, 0), (1, 0), (0, 1))
        label = Text('C').move_to((0, -1))
        p = np.array([1.5, -2])
        dot.shift(np.array([1, 1]))
        self.add(arrow, line, dot, tri, label)
        self.play(dot.animate.move_to([x_value(), 2]))
    """
    scene = repaired(scene_body(body, header="from manim import *\n\ndef x_value():\n    return 1\n"))
    assert construct_source(scene) == textwrap.dedent(
        """\
        arrow = Arrow(start=(-2, 1, 0), end=(-2, 0, 0), color=YELLOW)
        line = Line((-2, -2, 0), (2, 2, 0))
        dot = Dot([1, 2, 0])
        tri = Polygon((0, 0, 0), (1, 0, 0), (0, 1, 0))
        label = Text('C').move_to((0, -1, 0))
        p = np.array([1.5, -2])
        dot.shift(np.array([1, 1, 0]))
        self.add(arrow, line, dot, tri, label)
        self.play(dot.animate.move_to([x_value(), 2]))"""
    )
    assert "2-D point literals -> 3-D (added z = 0)" in scene.repairs


def test_three_d_points_and_ranges_are_not_touched() -> None:
    body = (
        "ax = Axes(x_range=(-5, 5), y_range=[-1, 1])\n"
        "line = Line([0, 0, 0], UP)\nself.play(Create(ax), Create(line))"
    )
    assert repaired(scene_body(body)).repairs == []


# -- axes and GraphScene ------------------------------------------------------------------


def test_axes_min_max_arguments_become_ranges() -> None:
    body = """
        ax = Axes(x_min=-3, x_max=3, y_min=0, y_max=9, x_axis_config={'tick_frequency': 0.5})
        self.play(Create(ax))
    """
    scene = repaired(scene_body(body))
    assert construct_source(scene).splitlines()[0] == (
        "ax = Axes(x_axis_config={}, x_range=[-3, 3, 0.5], y_range=[0, 9])"
    )


def test_number_line_and_number_plane_old_arguments() -> None:
    body = """
        nl = NumberLine(x_min=-5, x_max=5, tick_frequency=1, numbers_to_show=[-5, 0, 5])
        plane = NumberPlane(x_line_frequency=2)
        self.play(Create(nl), Create(plane))
    """
    source = construct_source(repaired(scene_body(body)))
    assert "nl = NumberLine(numbers_to_include=[-5, 0, 5], x_range=[-5, 5, 1])" in source
    assert "plane = NumberPlane(x_range=[-config.frame_x_radius, config.frame_x_radius, 1, 2])" not in source
    assert "plane = NumberPlane(x_range=[-config.frame_x_radius, config.frame_x_radius, 2])" in source


def test_get_graph_becomes_plot_with_x_range() -> None:
    body = """
        ax = Axes(x_range=[-5, 5], y_range=[-1, 1])
        graph = ax.get_graph(lambda x: np.sin(x), x_min=-3, x_max=3, color=PURPLE)
        self.add(ax, graph)
    """
    scene = repaired(scene_body(body))
    assert "graph = ax.plot(lambda x: np.sin(x), color=PURPLE, x_range=[-3, 3])" in scene.code
    assert ".get_graph(...) -> .plot(...)" in scene.repairs


def test_parametric_function_t_min_t_max() -> None:
    body = (
        "curve = ParametricFunction(lambda t: np.array([np.cos(t), np.sin(t), 0]), t_min=0, t_max=TAU)\n"
        "self.play(Create(curve))"
    )
    assert "t_range=[0, TAU]" in repaired(scene_body(body)).code


GRAPH_SCENE = '''\
from manimlib.imports import *

class PlotSquare(GraphScene):
    CONFIG = {
        "x_min": -3,
        "x_max": 3,
        "y_min": 0,
        "y_max": 9,
        "graph_origin": DOWN * 3,
        "x_axis_label": "$x$",
        "y_axis_label": "$f(x)$",
    }

    def construct(self):
        self.setup_axes(animate=True)
        graph = self.get_graph(lambda x: x ** 2, color=BLUE, x_min=-2, x_max=2)
        label = self.get_graph_label(graph, label="x^2")
        dot = Dot(self.coords_to_point(1, 1))
        line = self.get_vertical_line_to_graph(1, graph, color=YELLOW)
        area = self.get_area(graph, 0, 1)
        self.play(ShowCreation(graph), Write(label), FadeIn(dot), Create(line), FadeIn(area))
'''


def test_graph_scene_becomes_scene_with_axes() -> None:
    scene = repaired(GRAPH_SCENE)
    assert scene.scene_name == "PlotSquare"
    assert construct_source(scene) == textwrap.dedent(
        """\
        self.axes = Axes(x_range=[-3, 3, 1], y_range=[0, 9, 1], x_length=9, y_length=6, axis_config={'color': GREY})
        self.axes.shift(DOWN * 3 - self.axes.c2p(0, 0))
        self.axes_labels = self.axes.get_axis_labels(x_label='x', y_label='f(x)')
        self.play(Create(self.axes), Write(self.axes_labels))
        graph = self.axes.plot(lambda x: x ** 2, color=BLUE, x_range=[-2, 2])
        label = self.axes.get_graph_label(graph, label='x^2')
        dot = Dot(self.axes.c2p(1, 1))
        line = self.axes.get_vertical_line(self.axes.i2gp(1, graph), color=YELLOW)
        area = self.axes.get_area(graph, x_range=[0, 1])
        self.play(Create(graph), Write(label), FadeIn(dot), Create(line), FadeIn(area))"""
    )
    assert "class PlotSquare(Scene):" in scene.code
    assert "from manim import *" in scene.code and "manimlib" not in scene.code
    for repair in (
        "from manimlib.imports import ... -> from manim import *",
        "class PlotSquare: CONFIG dict -> class attributes",
        "class PlotSquare: GraphScene -> Scene with self.axes = Axes(...)",
        "ShowCreation -> Create",
    ):
        assert repair in scene.repairs


# -- module structure ---------------------------------------------------------------------


def test_missing_star_import_is_added() -> None:
    code = "import numpy as np\n\nclass SolutionScene(Scene):\n    def construct(self):\n        self.wait()\n"
    scene = repaired(code)
    assert scene.code.startswith("from manim import *\nimport numpy as np\n")
    assert "added the missing `from manim import *`" in scene.repairs


@pytest.mark.parametrize("old_import", ["from manimlib import *", "from manimlib.imports import *",
                                        "from manim_imports_ext import *", "import manimlib"])
def test_old_manim_imports_become_manim(old_import: str) -> None:
    scene = repaired(scene_body("self.play(Create(Circle()))", header=f"{old_import}\n"))
    assert scene.code.startswith("from manim import *\n")
    assert "manimlib" not in scene.code


def test_config_dict_becomes_class_attributes_and_background() -> None:
    code = textwrap.dedent(
        """\
        from manim import *

        class SolutionScene(Scene):
            CONFIG = {"radius": 2, "camera_config": {"background_color": WHITE}}

            def construct(self):
                self.play(Create(Circle(radius=self.radius, color=BLACK)))
        """
    )
    scene = repaired(code)
    assert "    radius = 2\n" in scene.code
    assert construct_source(scene) == (
        "self.camera.background_color = WHITE\nself.play(Create(Circle(radius=self.radius, color=BLACK)))"
    )


def test_scene_that_plays_nothing_gets_a_wait() -> None:
    scene = repaired(scene_body("arrow = Arrow(LEFT, RIGHT)\nself.add(arrow)"))
    assert construct_source(scene) == "arrow = Arrow(LEFT, RIGHT)\nself.add(arrow)\nself.wait()"
    assert "the scene played no animation: added `self.wait()` at the end so a video is produced" in scene.repairs


def test_zero_waits_and_zero_run_times() -> None:
    scene = repaired(scene_body("c = Circle()\nself.play(Create(c), run_time=0)\nself.wait(0)"))
    assert construct_source(scene) == "c = Circle()\nself.play(Create(c), run_time=0.1)"


def test_main_block_and_render_calls_are_removed() -> None:
    code = scene_body("self.play(Create(Circle()))") + (
        "\nconfig.pixel_height = 2160\nconfig.background_color = BLUE_E\n"
        "if __name__ == '__main__':\n    SolutionScene().render()\n"
    )
    scene = repaired(code)
    assert "__main__" not in scene.code and "2160" not in scene.code
    assert "config.background_color = BLUE_E" in scene.code


def test_camera_frame_needs_a_moving_camera_scene() -> None:
    scene = repaired(scene_body("self.play(self.camera.frame.animate.scale(0.5))"))
    assert "class SolutionScene(MovingCameraScene):" in scene.code


def test_three_d_camera_calls_need_a_three_d_scene() -> None:
    scene = repaired(scene_body("self.set_camera_orientation(phi=60 * DEGREES)\nself.play(Create(Cube()))"))
    assert "class SolutionScene(ThreeDScene):" in scene.code


def test_frame_constants_and_get_norm() -> None:
    scene = repaired(scene_body("w = FRAME_WIDTH / 2\nn = get_norm(UP)\nself.play(Create(Line(LEFT * w, RIGHT * n)))"))
    assert construct_source(scene).startswith("w = config.frame_width / 2\nn = np.linalg.norm(UP)")


def test_sector_outer_radius() -> None:
    body = "s = Sector(outer_radius=2, angle=PI)\na = Sector(inner_radius=1, outer_radius=2)\nself.add(s, a)"
    scene = repaired(scene_body(body))
    source = construct_source(scene)
    assert "s = Sector(radius=2, angle=PI)" in source
    assert "a = AnnularSector(inner_radius=1, outer_radius=2)" in source


# -- LaTeX ---------------------------------------------------------------------------------


def test_unicode_maths_symbols_become_latex_commands() -> None:
    scene = repaired(scene_body("eq = MathTex('x² ≤ 2π')\nnote = Tex('Area = πr²')\nself.add(eq, note)"))
    source = construct_source(scene)
    assert "eq = MathTex('x^2 \\\\leq  2\\\\pi ')" in source
    assert "note = Tex('Area = $\\\\pi$r$^2$')" in source
    assert any(r.startswith("Unicode maths symbols") for r in scene.repairs)


def test_tex_with_cyrillic_text_becomes_text() -> None:
    scene = repaired(scene_body("t = Tex('Решение уравнения', color=BLUE)\nself.play(Write(t))"))
    assert construct_source(scene) == "t = Text('Решение уравнения', color=BLUE)\nself.play(Write(t))"


def test_title_with_cyrillic_becomes_text_at_the_top() -> None:
    scene = repaired(scene_body("t = Title('Ответ')\nself.play(Write(t))"))
    assert construct_source(scene) == "t = Text('Ответ').to_edge(UP)\nself.play(Write(t))"


def test_accented_latin_stays_in_latex() -> None:
    code = scene_body("t = Tex('Solución: él está aquí')\nself.play(Write(t))")
    assert repaired(code).repairs == []


# -- other APIs that changed ---------------------------------------------------------------


def test_code_mobject_old_keywords() -> None:
    body = "c = Code(code='print(1)', language='python', style='monokai', font='Monospace', insert_line_no=False)\n"
    scene = repaired(scene_body(body + "self.play(FadeIn(c))"))
    assert construct_source(scene).splitlines()[0] == (
        "c = Code(code_string='print(1)', language='python', formatter_style='monokai', "
        "add_line_numbers=False, paragraph_config={'font': 'Monospace'})"
    )


def test_bar_chart_max_value() -> None:
    body = "chart = BarChart([1, 4, 2], max_value=5, bar_label_scale_val=0.5)\nself.play(Create(chart))"
    scene = repaired(scene_body(body))
    assert construct_source(scene).splitlines()[0] == "chart = BarChart([1, 4, 2], y_range=[0, 5, 5 / 5])"


def test_sounds_are_removed() -> None:
    scene = repaired(scene_body("self.add_sound('click.wav')\nself.play(Create(Circle()))"))
    assert construct_source(scene) == "self.play(Create(Circle()))"


def test_get_area_x_min_x_max() -> None:
    body = "ax = Axes()\ng = ax.plot(lambda x: x)\narea = ax.get_area(g, x_min=0, x_max=2)\nself.play(FadeIn(area))"
    assert "area = ax.get_area(g, x_range=[0, 2])" in repaired(scene_body(body)).code


# -- the shared corpus, statically --------------------------------------------------------


def test_every_corpus_scene_is_repaired_or_refused_for_a_missing_plugin() -> None:
    rows = corpus_rows()
    refused: list[str] = []
    for row in rows:
        try:
            scene = validate_and_repair(row["code"])
        except CodeRejected as exc:
            refused.append(exc.reason)
            continue
        compile(scene.code, "scene.py", "exec")
        # The repaired code is stable: repairing it again changes nothing.
        assert validate_and_repair(scene.code).repairs == []
    assert all("Manim plugin" in reason for reason in refused), refused
    assert len(refused) <= len(rows) // 20
