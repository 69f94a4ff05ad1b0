"""Manim Community 0.19 scene code for a worked solution.

Every scene has the same shape: a title (narration in the problem's
language, ``Text``) at the top, the problem as ``MathTex`` under it, the steps
as pages of at most four ``MathTex`` lines (arranged down the middle and scaled
to fit) while a caption at the bottom says what each step does, then the
figure (graph, number line, triangle or shape), then the boxed answer. For
geometry the figure comes first and stays on the left while the steps run on
the right.

All data enters the code as Python literals through ``repr``; the only code
not written here is a numpy expression printed by SymPy from a parsed formula
(``plots.numpy_code`` checks it), so problem text never becomes code.
"""

from __future__ import annotations

import re

from appliance.generation.builtin.language import say
from appliance.generation.builtin.spoken_math import spoken_formula
from appliance.generation.builtin.worked import (
    Figure,
    GraphFigure,
    NumberLineFigure,
    ShapeFigure,
    TriangleFigure,
    Worked,
)

SCENE_NAME = "SolutionScene"
MAX_STEPS = 8
_COLOURS = {"BLUE", "GREEN", "ORANGE", "YELLOW", "RED", "WHITE", "TEAL", "PURPLE"}

_HEADER = '''\
from manim import *
from manim_voiceover import VoiceoverScene
import numpy

# Written by the Manim Appliance built-in solver (kind: {kind}).
# Narrated: every caption is also said (the sandbox's offline voice) and becomes a subtitle.

TITLE = {title!r}
PROBLEM = {problem!r}
PROBLEM_PARTS = {problem_parts!r}
STEPS = {steps!r}
ANSWER_WORD = {answer_word!r}
ANSWER_SAID = {answer_said!r}
ANSWER_LATEX = {answer_latex!r}
ANSWER_TEXT = {answer_text!r}
CAPTION = {caption!r}
POINTS_SAID = {points_said!r}
FIGURE_SAID = {figure_said!r}
'''

_HELPERS = '''

def fit(mobject, max_width, max_height):
    \"\"\"Scale a mobject down (never up) to fit a box.\"\"\"
    if mobject.width > max_width:
        mobject.scale_to_fit_width(max_width)
    if mobject.height > max_height:
        mobject.scale_to_fit_height(max_height)
    return mobject


def wrapped(words, per_line):
    \"\"\"``words`` broken at spaces into lines of at most ``per_line`` characters.\"\"\"
    lines = []
    line = ""
    for word in words.split():
        if line and len(line) + 1 + len(word) > per_line:
            lines.append(line)
            line = word
        else:
            line = line + " " + word if line else word
    if line:
        lines.append(line)
    return "\\n".join(lines)


def caption_text(words, width=13.0, height=1.0):
    \"\"\"A caption at a size a phone can read (letters 0.31 units tall, the layout gate asks
    0.2): a long one is wrapped onto more lines, not shrunk; only a caption of more than
    three lines is scaled down to fit.\"\"\"
    text = Text(words, font_size=30)
    if text.width > width:
        per_line = max(12, int(len(words) * width / text.width * 0.92))
        text = Text(wrapped(words, per_line), font_size=30, line_spacing=0.8)
    return fit(text, width, height)


def boxes_overlap(first, second, gap=0.05):
    return (first.get_left()[0] < second.get_right()[0] + gap and second.get_left()[0] < first.get_right()[0] + gap
            and first.get_bottom()[1] < second.get_top()[1] + gap and second.get_bottom()[1] < first.get_top()[1] + gap)


def in_frame(mobject, margin=0.1):
    return (mobject.get_left()[0] > -config.frame_width / 2 + margin
            and mobject.get_right()[0] < config.frame_width / 2 - margin
            and mobject.get_bottom()[1] > -config.frame_height / 2 + margin
            and mobject.get_top()[1] < config.frame_height / 2 - margin)


def place_label(label, anchor, taken, paths, first=UR):
    \"\"\"Put ``label`` beside ``anchor`` where it is inside the frame, clear of everything in
    ``taken`` (tick labels, other labels, points) and of every line in ``paths`` (curves,
    axes): the first such side, nearest first; where none is, the side with the fewest
    conflicts.\"\"\"
    sides = [first] + [side for side in (UR, UL, DR, DL, UP, DOWN, RIGHT, LEFT) if side is not first]
    best = None
    for buff in (0.1, 0.3):
        for side in sides:
            label.next_to(anchor, side, buff=buff)
            conflicts = (0 if in_frame(label) else 100) + 10 * sum(boxes_overlap(label, other) for other in taken) \\
                + sum(runs_through(label, path) for path in paths)
            if conflicts == 0:
                return label
            if best is None or conflicts < best[0]:
                best = (conflicts, side, buff)
    return label.next_to(anchor, best[1], buff=best[2])


def runs_through(mobject, points, margin=0.25):
    \"\"\"Whether the polyline ``points`` passes through the middle of ``mobject``'s box (the box
    less ``margin`` of its height at each side, as the layout gate looks at it).\"\"\"
    inset = mobject.height * margin
    left, right = mobject.get_left()[0] + inset, mobject.get_right()[0] - inset
    bottom, top = mobject.get_bottom()[1] + inset, mobject.get_top()[1] - inset
    for start, end in zip(points[:-1], points[1:]):
        # Clip the segment to the box (Liang-Barsky): any part left means it crosses.
        low, high = 0.0, 1.0
        crossing = True
        for delta, offset in ((-(end[0] - start[0]), start[0] - left), (end[0] - start[0], right - start[0]),
                              (-(end[1] - start[1]), start[1] - bottom), (end[1] - start[1], top - start[1])):
            if delta == 0:
                if offset < 0:
                    crossing = False
                    break
                continue
            ratio = offset / delta
            if delta < 0:
                low = max(low, ratio)
            else:
                high = min(high, ratio)
            if low > high:
                crossing = False
                break
        if crossing:
            return True
    return False


def tick_label(axis, value, label):
    \"\"\"An axis tick's label written as a formula (π/2) where manim would write a number.\"\"\"
    text = MathTex(label, font_size=30).next_to(axis.n2p(value), DOWN, buff=MED_SMALL_BUFF)
    text.tick_value = value  # where free_tick_labels finds it again, as manim's numbers answer get_value()
    return text


def blocked(label, paths, points, reach=0.1):
    \"\"\"Whether a line runs through ``label`` or a marked point sits on it.\"\"\"
    return any(runs_through(label, path) for path in paths) or any(
        label.get_left()[0] - reach < point[0] < label.get_right()[0] + reach
        and label.get_bottom()[1] - reach < point[1] < label.get_top()[1] + reach for point in points)


def free_tick_labels(axes, paths, points):
    \"\"\"A tick label a curve runs through, or a marked point sits on, moves to the other side
    of its axis, or is left out when both sides are taken: a number under a line cannot be read.\"\"\"
    for axis, other_side in ((axes.x_axis, UP), (axes.y_axis, RIGHT)):
        for label in list(axis.numbers):
            if not blocked(label, paths, points):
                continue
            value = label.tick_value if hasattr(label, "tick_value") else label.get_value()
            label.next_to(axis.n2p(value), other_side, buff=0.15)
            if blocked(label, paths, points):
                axis.numbers.remove(label)


def working_line(parts, width, height):
    \"\"\"One line of working, split into parts so that a transform can match them.\"\"\"
    return fit(MathTex(*parts, font_size=72), width, height)


class SolutionScene(VoiceoverScene):
    def construct(self):
        self.caption = None
        title = fit(Text(TITLE, font_size=40, color=YELLOW), 12.5, 0.8).to_edge(UP, buff=0.35)
        problem = fit(MathTex(*PROBLEM_PARTS, font_size=50), 12.5, 1.4).next_to(title, DOWN, buff=0.3)
        self.problem = problem
        with self.voiceover(text=TITLE) as tracker:
            # As long as the title is being said, no longer: silence is time lost.
            self.play(Write(title), run_time=max(0.5, min(0.8, tracker.duration / 2)))
            self.play(FadeIn(problem, shift=DOWN * 0.2), run_time=max(0.5, min(0.6, tracker.get_remaining_duration())))
        top = problem.get_bottom()[1] - 0.3
{body}

    def narrate(self, words, *animations):
        \"\"\"Say ``words`` (voice, subtitle and the caption at the bottom) while ``animations``
        play; the next step starts only when the voice has finished.\"\"\"
        with self.voiceover(text=words) as tracker:
            self.show_caption(words)
            if animations:
                self.play(*animations, run_time=max(0.8, min(2.0, tracker.get_remaining_duration() * 0.8)))

    def show_caption(self, words):
        """The caption at the bottom of the frame says what the voice says."""
        new = caption_text(words).to_edge(DOWN, buff=0.25)
        if self.caption is None:
            self.play(FadeIn(new), run_time=0.4)
        else:
            self.play(FadeOut(self.caption), FadeIn(new), run_time=0.4)
        self.caption = new

    def show_steps(self, top, left, right, bottom=-2.6):
        \"\"\"The working: one line at a time, large, each transformed into the next (the parts
        that stay move into place, the parts that change are written in yellow); the line
        before stays above, smaller, so the step from one to the next can be followed.\"\"\"
        width = right - left
        centre = numpy.array([(left + right) / 2, bottom + (top - bottom) * 0.38, 0])
        current = None
        earlier = None
        for words, parts in STEPS:
            if not parts:
                self.narrate(words)
                continue
            line = working_line(parts, width, 1.8).move_to(centre)
            # The first line grows out of the problem above; each later one out of the line before.
            source = current if current is not None else self.problem
            kept = set(part.get_tex_string() for part in source.submobjects)
            for part in line.submobjects:
                if part.get_tex_string() not in kept:
                    part.set_color(YELLOW)
            moving = [TransformMatchingTex(source.copy(), line)]
            if current is not None:
                above = current.copy().set_color(GREY_B).scale(0.6)
                above.move_to([centre[0], (top + line.get_top()[1]) / 2, 0])
                fit(above, width, max(0.3, top - line.get_top()[1] - 0.2))
                moving.append(FadeOut(current))
                moving.append(FadeIn(above) if earlier is None else ReplacementTransform(earlier, above))
                earlier = above
            self.narrate(words, *moving)
            current = line
        leaving = [mobject for mobject in (current, earlier) if mobject is not None]
        if leaving:
            self.play(*[FadeOut(mobject) for mobject in leaving], run_time=0.5)

    def show_answer(self, keep, centre, width):
        \"\"\"Clear everything but ``keep`` and box the answer at ``centre``.\"\"\"
        label = Text(ANSWER_WORD, font_size=36, color=YELLOW)
        # One row per part of the answer, written while the voice says it.
        if ANSWER_LATEX:
            rows = [MathTex(row, font_size=60) for row in ANSWER_LATEX.split(" \\\\\\\\ ")]
        else:
            rows = [Text(row, font_size=36) for row in ANSWER_TEXT.split("; ")]
        body = VGroup(*rows).arrange(DOWN, buff=0.3)
        fit(body, width - 0.6, 2.8)
        answer = VGroup(label, body).arrange(DOWN, buff=0.4).move_to(centre)
        box = SurroundingRectangle(body, color=YELLOW, buff=0.25)
        # Parts of a kept group were added one by one, so compare whole families.
        kept = [part for mobject in keep for part in mobject.get_family()]
        leaving = [mobject for mobject in self.mobjects if mobject not in kept]
        if leaving:
            self.play(*[FadeOut(mobject) for mobject in leaving], run_time=0.6)
        self.caption = None
        with self.voiceover(text=ANSWER_SAID) as tracker:
            self.play(FadeIn(label), Write(rows[0]), run_time=1.2)
            # The other rows follow the voice, spread over what it still has to say.
            each = tracker.get_remaining_duration() / len(rows)
            for row in rows[1:]:
                self.wait(max(0.0, min(each - 0.8, 4.0)))
                self.play(Write(row), run_time=0.8)
            self.play(Create(box), run_time=0.6)
        self.wait(0.8)
'''

_BODY_STEPS_THEN_FIGURE = '''\
        self.show_steps(top, -6.6, 6.6)
        self.play(FadeOut(problem), run_time=0.5)
        self.draw_figure(title)
        self.show_answer([title], DOWN * 0.3, 12.5)
'''

_BODY_STEPS_ONLY = '''\
        self.show_steps(top, -6.6, 6.6)
        self.show_answer([title, problem], DOWN * 0.6, 12.5)
'''

_BODY_FIGURE_FIRST = '''\
        figure = self.draw_figure(top)
        # The working gets the right half and a little more (the figure keeps to x < -0.6), so
        # that a long line stays at a readable size.
        self.show_steps(top, -0.4, 6.7)
        self.show_answer([title, problem, figure], [3.15, (top - 2.9) / 2, 0], 7.0)
'''

_GRAPH_FIGURE = '''
X_RANGE = {x_range!r}
Y_RANGE = {y_range!r}
CURVES = [
{curves}
]
MARKERS = {markers}
VERTICAL_LINES = {verticals}
HORIZONTAL_LINES = {horizontals}
AREA = {area}
NUMBER_DECIMALS = ({x_decimals}, {y_decimals})
X_TICK_LABELS = {x_tick_labels}
'''

_GRAPH_METHOD = '''
    def draw_figure(self, title):
        axes = Axes(
            x_range=X_RANGE, y_range=Y_RANGE, x_length=8.4, y_length=4.8, tips=False,
            # Numbers at 30 pt: their digits are 0.21 units tall, over the layout gate's 0.2.
            x_axis_config={"include_numbers": not X_TICK_LABELS, "font_size": 30,
                           "decimal_number_config": {"num_decimal_places": NUMBER_DECIMALS[0]}},
            y_axis_config={"include_numbers": True, "font_size": 30,
                           "decimal_number_config": {"num_decimal_places": NUMBER_DECIMALS[1]}},
        ).move_to(LEFT * 2.2 + DOWN * 0.15)
        if X_TICK_LABELS:
            axes.x_axis.numbers = VGroup(*[tick_label(axes.x_axis, value, label) for value, label in X_TICK_LABELS])
            axes.x_axis.add(axes.x_axis.numbers)
        axis_labels = axes.get_axis_labels(x_label=MathTex("x"), y_label=MathTex("y"))
        legend_rows = []
        drawn = []
        for function, segments, colour, label in CURVES:
            drawn.append(VGroup(*[
                axes.plot(function, x_range=[low, high, (high - low) / 100], color=colour)
                for low, high in segments
            ]))
            swatch = Line(ORIGIN, RIGHT * 0.5, color=colour, stroke_width=6)
            legend_rows.append(VGroup(swatch, MathTex(label, font_size=30, color=colour)).arrange(RIGHT, buff=0.2))
        # Every line a label must keep clear of: the curves and the two axes.
        self.paths = [curve.get_all_points() for curve in drawn] + [
            numpy.array([axis.get_start(), axis.get_end()]) for axis in (axes.x_axis, axes.y_axis)]
        free_tick_labels(axes, self.paths, [axes.c2p(marker[0], marker[1]) for marker in MARKERS])
        self.labels_taken = [*axes.x_axis.numbers, *axes.y_axis.numbers, *axis_labels]
        # Said while the axes and the curves are drawn.
        self.narrate(CAPTION, Create(axes), FadeIn(axis_labels), *[Create(curve) for curve in drawn])
        if POINTS_SAID:
            with self.voiceover(text=POINTS_SAID):  # said while the points and lines appear
                self.show_caption(POINTS_SAID)
                self.draw_points(axes, legend_rows)
        else:
            self.draw_points(axes, legend_rows)
        # The finished graph stays a moment once its last label is in: it used to give way to
        # the answer half a second after the last point appeared, too soon to take it in.
        self.wait(1.5)

    def draw_points(self, axes, legend_rows):
        for x_value, label, colour in VERTICAL_LINES:
            line = Line(axes.c2p(x_value, Y_RANGE[0]), axes.c2p(x_value, Y_RANGE[1]), color=colour)
            self.paths.append(numpy.array([line.get_start(), line.get_end()]))
            self.play(Create(line), run_time=1)
            swatch = Line(ORIGIN, RIGHT * 0.5, color=colour, stroke_width=6)
            legend_rows.append(VGroup(swatch, MathTex(label, font_size=30, color=colour)).arrange(RIGHT, buff=0.2))
        if legend_rows:
            legend = VGroup(*legend_rows).arrange(DOWN, aligned_edge=LEFT, buff=0.15)
            # Beside the axes, not on them: a legend must never cover the curves it names.
            fit(legend, 4.5, 4.4)
            legend.next_to(axes, RIGHT, buff=0.35).align_to(axes, UP)
            self.labels_taken.append(legend)
            self.play(FadeIn(legend), run_time=0.6)
        for y_value, colour in HORIZONTAL_LINES:
            guide = DashedLine(axes.c2p(X_RANGE[0], y_value), axes.c2p(X_RANGE[1], y_value), color=colour,
                               stroke_width=2)
            self.paths.append(numpy.array([guide.get_start(), guide.get_end()]))
            self.play(Create(guide), run_time=0.8)
        if AREA is not None:
            function, low, high = AREA
            bounded = axes.plot(function, x_range=[low, high, (high - low) / 100])
            area = axes.get_area(bounded, x_range=(low, high), color=[BLUE, GREEN], opacity=0.5)
            self.play(FadeIn(area), run_time=1.2)
        directions = [UR, DR, UL, DL]  # neighbouring points (roots on the axis) label above, then below
        dots = []
        for x_value, y_value, label, colour, hollow in MARKERS:
            point = axes.c2p(x_value, y_value)
            if hollow:
                dots.append(Circle(radius=0.09, color=colour, stroke_width=4).set_fill(BLACK, opacity=1)
                            .move_to(point))
            else:
                dots.append(Dot(point, radius=0.09, color=colour))
        for index, ((x_value, y_value, label, colour, hollow), dot) in enumerate(zip(MARKERS, dots)):
            text = MathTex(label, font_size=30, color=colour)
            text.add_background_rectangle(opacity=0.75)
            # Clear of the numbers, the other points and labels, the curves and the axes.
            place_label(text, dot, self.labels_taken + dots, self.paths, directions[index % 4])
            self.labels_taken.append(text)
            self.play(FadeIn(dot, scale=0.5), FadeIn(text), run_time=0.7)
'''

_NUMBER_LINE_FIGURE = '''
LINE_RANGE = {x_range!r}
PIECES = {pieces!r}
POINTS = {points!r}
BOUNDARY_LABELS = {labels!r}
LINE_DECIMALS = {decimals}
'''

_NUMBER_LINE_METHOD = '''
    def draw_figure(self, title):
        line = NumberLine(x_range=LINE_RANGE, length=11, include_numbers=True, font_size=30,
                          decimal_number_config={"num_decimal_places": LINE_DECIMALS}).move_to(DOWN * 0.6)
        variable = MathTex("x", font_size=36).next_to(line, RIGHT, buff=0.25)
        with self.voiceover(text=CAPTION):  # said while the line and the solution set are drawn
            self.show_caption(CAPTION)
            self.draw_solution_set(line, variable)
        self.wait(0.5)

    def draw_solution_set(self, line, variable):
        self.play(Create(line), FadeIn(variable), run_time=1.2)
        if ANSWER_LATEX:
            statement = fit(MathTex(ANSWER_LATEX, font_size=44, color=YELLOW), 12, 1.2).next_to(line, UP, buff=1.2)
            self.play(Write(statement), run_time=1)
        drawn = []
        for low, high, low_closed, high_closed in PIECES:
            start = line.n2p(LINE_RANGE[0]) + LEFT * 0.3 if low is None else line.n2p(low)
            end = line.n2p(LINE_RANGE[1]) + RIGHT * 0.3 if high is None else line.n2p(high)
            if low is None and high is None:
                ray = DoubleArrow(start, end, buff=0, color=YELLOW, stroke_width=8)
            elif low is None:
                ray = Arrow(end, start, buff=0, color=YELLOW, stroke_width=8, max_tip_length_to_length_ratio=0.08)
            elif high is None:
                ray = Arrow(start, end, buff=0, color=YELLOW, stroke_width=8, max_tip_length_to_length_ratio=0.08)
            else:
                ray = Line(start, end, color=YELLOW, stroke_width=8)
            drawn.append(ray.shift(UP * 0.02))
            for value, closed in ((low, low_closed), (high, high_closed)):
                if value is None:
                    continue
                if closed:
                    drawn.append(Dot(line.n2p(value), radius=0.12, color=YELLOW))
                else:
                    drawn.append(Circle(radius=0.12, color=YELLOW, stroke_width=4).set_fill(BLACK, opacity=1)
                                 .move_to(line.n2p(value)))
        for value in POINTS:
            drawn.append(Dot(line.n2p(value), radius=0.12, color=YELLOW))
        for value, label in BOUNDARY_LABELS:
            drawn.append(MathTex(label, font_size=30, color=YELLOW).next_to(line.n2p(value), UP, buff=0.3))
        if drawn:
            self.play(*[Create(mobject) if isinstance(mobject, Line) else FadeIn(mobject) for mobject in drawn],
                      run_time=1.5)
'''

_TRIANGLE_FIGURE = '''
LEGS = ({leg_a!r}, {leg_b!r})
SIDE_LABELS = ({label_a!r}, {label_b!r}, {label_c!r})
UNKNOWN = {unknown!r}
'''

_TRIANGLE_METHOD = '''
    def draw_figure(self, top):
        scale = min(4.4 / LEGS[0], 3.6 / LEGS[1])
        corner, right_end, top_end = ORIGIN, RIGHT * LEGS[0] * scale, UP * LEGS[1] * scale
        triangle = Polygon(corner, right_end, top_end, color=BLUE, stroke_width=5)
        triangle.set_fill(BLUE, opacity=0.15)
        mark = RightAngle(Line(corner, right_end), Line(corner, top_end), length=0.3, color=WHITE)
        colours = [YELLOW if name == UNKNOWN else WHITE for name in ("a", "b", "c")]
        label_a = MathTex(SIDE_LABELS[0], font_size=34, color=colours[0]).next_to(Line(corner, right_end), DOWN)
        label_b = MathTex(SIDE_LABELS[1], font_size=34, color=colours[1]).next_to(Line(corner, top_end), LEFT)
        outward = numpy.array([LEGS[1], LEGS[0], 0.0])
        outward = outward / numpy.linalg.norm(outward)
        label_c = MathTex(SIDE_LABELS[2], font_size=34, color=colours[2])
        label_c.move_to((right_end + top_end) / 2 + outward * 0.55)
        figure = VGroup(triangle, mark, label_a, label_b, label_c)
        fit(figure, 6.0, top + 2.9)
        figure.move_to([-3.75, (top - 2.9) / 2, 0])
        with self.voiceover(text=FIGURE_SAID) as tracker:
            self.show_caption(FIGURE_SAID)
            self.play(Create(triangle), Create(mark), run_time=max(0.8, tracker.get_remaining_duration() * 0.6))
            self.play(FadeIn(label_a), FadeIn(label_b), FadeIn(label_c), run_time=0.6)
        return figure
'''

_SHAPE_FIGURE = '''
SHAPE = {shape!r}
SIZES = ({width!r}, {height!r})
SHAPE_LABELS = {labels!r}
OUTLINE = {outline!r}
'''

_SHAPE_METHOD = '''
    def draw_figure(self, top):
        if SHAPE == "circle":
            shape = Circle(radius=1.8, color=BLUE).set_fill(BLUE, opacity=0.25)
            radius = Line(ORIGIN, RIGHT * 1.8, color=YELLOW, stroke_width=5)
            label = MathTex(SHAPE_LABELS[0], font_size=34, color=YELLOW).next_to(radius, UP, buff=0.15)
            parts = [shape, radius, Dot(ORIGIN, color=YELLOW), label]
        elif SHAPE == "square":
            shape = Square(side_length=3, color=BLUE).set_fill(BLUE, opacity=0.25)
            brace = Brace(shape, DOWN)
            parts = [shape, brace, MathTex(SHAPE_LABELS[0], font_size=34).next_to(brace, DOWN, buff=0.15)]
        elif SHAPE == "rectangle":
            scale = min(4.4 / SIZES[0], 3.2 / SIZES[1])
            width, height = max(SIZES[0] * scale, 0.8), max(SIZES[1] * scale, 0.8)
            shape = Rectangle(width=width, height=height, color=BLUE).set_fill(BLUE, opacity=0.25)
            bottom, side = Brace(shape, DOWN), Brace(shape, LEFT)
            parts = [shape, bottom, side,
                     MathTex(SHAPE_LABELS[0], font_size=34).next_to(bottom, DOWN, buff=0.15),
                     MathTex(SHAPE_LABELS[1], font_size=34).next_to(side, LEFT, buff=0.15)]
        else:
            scale = min(4.4 / SIZES[0], 3.2 / SIZES[1])
            base, height = max(SIZES[0] * scale, 0.8), max(SIZES[1] * scale, 0.8)
            left_end, right_end, apex = ORIGIN, RIGHT * base, numpy.array([base * 0.35, height, 0])
            shape = Polygon(left_end, right_end, apex, color=BLUE).set_fill(BLUE, opacity=0.25)
            foot = numpy.array([base * 0.35, 0, 0])
            altitude = DashedLine(apex, foot, color=YELLOW)
            brace = Brace(Line(left_end, right_end), DOWN)
            parts = [shape, altitude, RightAngle(Line(foot, right_end), Line(foot, apex), length=0.2), brace,
                     MathTex(SHAPE_LABELS[0], font_size=34).next_to(brace, DOWN, buff=0.15),
                     MathTex(SHAPE_LABELS[1], font_size=34, color=YELLOW).next_to(altitude, RIGHT, buff=0.15)]
        if OUTLINE:
            # A perimeter is the boundary's length: the outline is traced, nothing is filled.
            shape.set_fill(opacity=0).set_stroke(YELLOW, width=7)
        figure = VGroup(*parts)
        fit(figure, 6.0, top + 2.9)
        figure.move_to([-3.75, (top - 2.9) / 2, 0])
        with self.voiceover(text=FIGURE_SAID) as tracker:
            self.show_caption(FIGURE_SAID)
            self.play(Create(parts[0]), run_time=max(0.8, tracker.get_remaining_duration() * 0.6))
            self.play(*[FadeIn(part) for part in parts[1:]], run_time=0.6)
        return figure
'''


def _decimals(step: float) -> int:
    for places in range(0, 4):
        if abs(step * 10**places - round(step * 10**places)) < 1e-9:
            return places
    return 3


def _colour(name: str) -> str:
    if name not in _COLOURS:
        raise ValueError(f"unknown colour {name}")
    return name


def _graph_code(figure: GraphFigure) -> tuple[str, str]:
    curves = ",\n".join(
        f"    (lambda x: {curve.code}, {curve.segments!r}, {_colour(curve.color)}, {curve.label!r})"
        for curve in figure.curves
    )
    markers = [(m.x, m.y, m.label, m.color, m.hollow) for m in figure.markers]
    marker_text = "[" + ", ".join(f"({x!r}, {y!r}, {label!r}, {_colour(c)}, {hollow!r})"
                                  for x, y, label, c, hollow in markers) + "]"
    verticals = "[" + ", ".join(f"({x!r}, {label!r}, {_colour(c)})" for x, label, c in figure.vertical_lines) + "]"
    horizontals = "[" + ", ".join(f"({y!r}, {_colour(c)})" for y, c in figure.horizontal_lines) + "]"
    area = "None"
    if figure.area is not None:
        code, low, high = figure.area
        area = f"(lambda x: {code}, {low!r}, {high!r})"
    data = _GRAPH_FIGURE.format(x_range=list(figure.x_range), y_range=list(figure.y_range), curves=curves,
                                markers=marker_text, verticals=verticals, horizontals=horizontals, area=area,
                                x_decimals=_decimals(figure.x_range[2]), y_decimals=_decimals(figure.y_range[2]),
                                x_tick_labels=list(figure.x_tick_labels))
    return data, _GRAPH_METHOD


def _figure_code(figure: Figure | None) -> tuple[str, str]:
    if isinstance(figure, GraphFigure):
        return _graph_code(figure)
    if isinstance(figure, NumberLineFigure):
        data = _NUMBER_LINE_FIGURE.format(x_range=list(figure.x_range), pieces=list(figure.pieces),
                                          points=list(figure.points), labels=list(figure.labels),
                                          decimals=_decimals(figure.x_range[2]))
        return data, _NUMBER_LINE_METHOD
    if isinstance(figure, TriangleFigure):
        data = _TRIANGLE_FIGURE.format(leg_a=figure.leg_a, leg_b=figure.leg_b, label_a=figure.label_a,
                                       label_b=figure.label_b, label_c=figure.label_c, unknown=figure.unknown)
        return data, _TRIANGLE_METHOD
    if isinstance(figure, ShapeFigure):
        data = _SHAPE_FIGURE.format(shape=figure.shape, width=figure.width, height=figure.height,
                                    labels=figure.labels, outline=figure.outline)
        return data, _SHAPE_METHOD
    return "", ""


# LaTeX that must stay in one piece: an environment, alignment, several rows.
_UNSPLITTABLE = re.compile(r"\\(begin|end)\b|&|\\\\")
_TOP_LEVEL_BREAK = re.compile(r"\s*(=|<|>|\\leq?\b|\\geq?\b|\\neq\b|\\approx\b|\\Rightarrow\b|\\quad\b|\+|-|\\pm\b)\s*")
_OPEN = re.compile(r"\\left\b")
_CLOSE = re.compile(r"\\right\b")


def working_parts(latex: str) -> list[str]:
    """``latex`` split before each top-level relation and + or - sign ("2x", "+ 3", "- 3",
    "=", "11", "- 3"), so that Manim's TransformMatchingTex can move the parts one step keeps
    into the next and the parts that change stand out. Braces and \\left...\\right pairs are
    never cut: Manim typesets every part on its own, so each part must be balanced LaTeX.
    Anything that cannot be cut safely is one part.
    """
    latex = latex.strip()
    if not latex or _UNSPLITTABLE.search(latex):
        return [latex] if latex else []
    parts: list[str] = []
    depth = 0
    piece_start = 0
    index = 0
    while index < len(latex):
        char = latex[index]
        if _OPEN.match(latex, index):
            depth += 1
            index += len("\\left")
            continue
        if _CLOSE.match(latex, index):
            depth -= 1
            index += len("\\right")
            continue
        if char == "\\":  # a command name or an escaped character: never a break
            index += 2
            while index < len(latex) and latex[index].isalpha():
                index += 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth < 0:
            return [latex]
        if depth == 0:
            match = _TOP_LEVEL_BREAK.match(latex, index)
            if match and match.group(0).strip() and latex[piece_start:index].strip():
                parts.append(latex[piece_start:index].strip())
                relation = match.group(1)
                if relation in ("+", "-", "\\pm"):
                    piece_start = index  # a sign starts the next term: "+ 3"
                    index = match.end()
                    continue
                parts.append(relation)
                piece_start = index = match.end()
                continue
        index += 1
    if depth != 0:
        return [latex]
    tail = latex[piece_start:].strip()
    if tail:
        parts.append(tail)
    return [" ".join(part.split()) for part in parts if part]


# The answer is said as it is written once its symbols are words: a speech synthesizer reads
# letters, digits, = and a few separators right in every language, and mangles the rest.
_SPOKEN_SYMBOLS: dict[str, dict[str, str]] = {
    "en": {"<": " less than ", ">": " greater than ",
           "π": " pi ", "≈": ", approximately ", "^2": " squared", "²": " squared", "^3": " cubed", "³": " cubed",
           "·": " times ", "√": " root of ", "±": " plus or minus ", "≤": " at most ", "≥": " at least ",
           "∞": " infinity "},
    "es": {"<": " menor que ", ">": " mayor que ",
           "π": " pi ", "≈": ", aproximadamente ", "^2": " al cuadrado", "²": " al cuadrado", "^3": " al cubo",
           "³": " al cubo", "·": " por ", "√": " raíz de ", "±": " más o menos ", "≤": " como mucho ",
           "≥": " como mínimo ", "∞": " infinito "},
    "ru": {"<": " меньше ", ">": " больше ",
           "π": " пи ", "≈": ", примерно ", "^2": " в квадрате", "²": " в квадрате", "^3": " в кубе", "³": " в кубе",
           "·": " умножить на ", "√": " корень из ", "±": " плюс-минус ", "≤": " не больше ", "≥": " не меньше ",
           "∞": " бесконечность "},
    "de": {"<": " kleiner als ", ">": " größer als ",
           "π": " pi ", "≈": ", ungefähr ", "^2": " Quadrat", "²": " Quadrat", "^3": " hoch drei", "³": " hoch drei",
           "·": " mal ", "√": " Wurzel aus ", "±": " plus minus ", "≤": " höchstens ", "≥": " mindestens ",
           "∞": " unendlich "},
    "fr": {"<": " inférieur à ", ">": " supérieur à ",
           "π": " pi ", "≈": ", environ ", "^2": " carré", "²": " carré", "^3": " cube", "³": " cube",
           "·": " fois ", "√": " racine de ", "±": " plus ou moins ", "≤": " au plus ", "≥": " au moins ",
           "∞": " infini "},
}
# Up to about 12 s of speech: a periodic plot's answer (period, zeros, both extrema as families)
# runs to 150 characters, and was announced as the bare word "Answer".
_SPEAKABLE_ANSWER = re.compile(r"^[\w\s=.,;:+()/'-]{1,160}$")


def spoken_answer(worked: Worked, language: str) -> str:
    """"Answer: x = 4." as the voice says it. A formula espeak-ng cannot read from its text
    (x^2cos(x)) is said from the SymPy answer ("the derivative is x squared times cosine x");
    the word alone when neither can be said reliably (a set in symbols)."""
    word = say("answer", language)
    text = worked.answer_text.strip()
    for symbol, words in _SPOKEN_SYMBOLS.get(language, _SPOKEN_SYMBOLS["en"]).items():
        text = text.replace(symbol, words)
    text = " ".join(text.replace(";", ",").split()).replace(" ,", ",").replace(" /", "/")
    if text and _SPEAKABLE_ANSWER.match(text) and not re.search(r"[a-z]{2,}\(", text):
        return f"{word}: {text}."
    formula = _spoken_formula_answer(worked, language)
    return f"{word}: {formula}." if formula else f"{word}."


def _spoken_formula_answer(worked: Worked, language: str) -> str | None:
    reference = worked.reference
    if reference is None or reference.expression is None:
        return None
    said = spoken_formula(reference.expression, language)
    if said is None:
        return None
    if worked.kind == "derivative":
        second = "''" in worked.answer_text.split("=", 1)[0]
        return say("answer.second_derivative" if second else "answer.derivative", language, formula=said)
    if worked.kind == "indefinite_integral":
        return say("answer.antiderivative", language, formula=said)
    return said


def narration_texts(worked: Worked, language: str) -> list[str]:
    """What the scene says, in order (the subtitles carry the same texts; tests compare them):
    the title; a figure drawn first (geometry) is named; each step; a graph or a number line
    drawn after the steps is introduced, and a graph's marked points are pointed out; the answer."""
    said = [worked.title]
    figure = worked.figure
    if isinstance(figure, TriangleFigure | ShapeFigure):
        said.append(_figure_said(worked, language))
    said += [step.say for step in worked.steps[:MAX_STEPS]]
    if isinstance(figure, GraphFigure | NumberLineFigure):
        said.append(_caption(worked, language))
    if _points_said(worked, language):
        said.append(_points_said(worked, language))
    return [*said, spoken_answer(worked, language)]


def _caption(worked: Worked, language: str) -> str:
    return getattr(worked.figure, "caption", "") or say("graph", language)


def _figure_said(worked: Worked, language: str) -> str:
    return getattr(worked.figure, "caption", "") or say("figure", language)


def _points_said(worked: Worked, language: str) -> str:
    """A graph with marked points or lines says what they are (the template then speaks while
    it draws them)."""
    figure = worked.figure
    if isinstance(figure, GraphFigure) and (figure.markers or figure.vertical_lines):
        return say("figure_points", language)
    return ""


def scene_code(worked: Worked, language: str) -> str:
    """The complete scene source for a worked solution."""
    steps = [(step.say, working_parts(step.latex)) for step in worked.steps][:MAX_STEPS]
    header = _HEADER.format(kind=worked.kind, title=worked.title, problem=worked.problem_latex,
                            problem_parts=working_parts(worked.problem_latex) or [" "], steps=steps,
                            answer_word=say("answer", language), answer_said=spoken_answer(worked, language),
                            answer_latex=worked.answer_latex, answer_text=worked.answer_text,
                            caption=_caption(worked, language), points_said=_points_said(worked, language),
                            figure_said=_figure_said(worked, language))
    figure_data, figure_method = _figure_code(worked.figure)
    if not figure_method:
        body = _BODY_STEPS_ONLY
    elif worked.figure_first:
        body = _BODY_FIGURE_FIRST
    else:
        body = _BODY_STEPS_THEN_FIGURE
    helpers = _HELPERS.replace("{body}", body.rstrip("\n"))
    return header + figure_data + helpers + figure_method
