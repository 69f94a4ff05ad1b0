# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=0.5)
        self.play(Transform(square, Circle(color=GREEN)), run_time=0.5)
