# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        time.sleep(10**6)
