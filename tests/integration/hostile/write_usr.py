# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        with open("/usr/lib/python3/dist-packages/evil.pth", "w") as sink:
            sink.write("import os\n")
        self.play(FadeIn(Square()), run_time=0.2)  # reached only if /usr was writable
