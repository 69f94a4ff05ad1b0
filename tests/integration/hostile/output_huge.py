# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os

from manim import *


class Hostile(Scene):
    def construct(self):
        self.play(FadeIn(Square()), run_time=0.2)

    def render(self, preview=False):
        super().render(preview)
        movie = self.renderer.file_writer.movie_file_path
        with open(movie, "ab") as sink:  # a real MP4 head, grown past the cap (fsize still allows it)
            sink.write(os.urandom(2_500_000))
