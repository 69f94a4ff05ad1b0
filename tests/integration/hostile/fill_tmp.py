# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        chunk = b"\x02" * (1024 * 1024)
        index = 0
        while True:  # many 1 MiB files, so the tmpfs size (not fsize) is what stops it
            with open(f"/tmp/fill-{index}", "wb") as sink:
                sink.write(chunk)
            index += 1
