# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        formula = MathTex(r"\frac{1}{2} + \notamacro{x}")
        self.play(Write(formula))
