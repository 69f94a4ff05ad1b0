# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import sys

from manim import *


class Hostile(Scene):
    def construct(self):
        line = "spam " * 200
        while True:
            print(line)
            sys.stderr.write(line + "\n")
