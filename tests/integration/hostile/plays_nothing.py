# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        self.add(Square(), MathTex("x^2"))
