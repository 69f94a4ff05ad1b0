# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        self.play(FadeIn(Square()), run_time=0.2)

    def render(self, preview=False):
        super().render(preview)
        with open(self.renderer.file_writer.movie_file_path, "wb") as sink:
            sink.write(b"this is not a video\n" * 5000)
