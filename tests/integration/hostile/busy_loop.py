# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        counter = 0
        while True:
            counter += 1
