# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os

from manim import *


class Hostile(Scene):
    def construct(self):
        os.makedirs("/work/many", exist_ok=True)
        index = 0
        while True:
            with open(f"/work/many/{index}", "w") as sink:
                sink.write("x")
            index += 1
