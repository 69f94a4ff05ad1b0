# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        square = Square()
        self.play(Create(square), run_time=0.2)
        square.shift_and_twirl(RED)
