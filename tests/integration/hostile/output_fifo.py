# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os

from manim import *


class Hostile(Scene):
    def construct(self):
        self.play(FadeIn(Square()), run_time=0.2)

    def render(self, preview=False):
        super().render(preview)
        movie = self.renderer.file_writer.movie_file_path
        os.remove(movie)
        os.mkfifo(movie)  # reading it would block forever
