# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
from pathlib import Path

from manim import *


class Hostile(Scene):
    def construct(self):
        environ = dict(os.environ)
        try:
            environ["pid1"] = Path("/proc/1/environ").read_bytes().decode(errors="replace")
        except OSError as exc:
            environ["pid1"] = f"unreadable: {exc}"
        raise RuntimeError("ENVIRONMENT " + repr(sorted(environ.items())))
