# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        hoard = []
        while True:
            hoard.append(b"\x01" * (32 * 1024 * 1024))  # touched pages, not lazy zero pages
