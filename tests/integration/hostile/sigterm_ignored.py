# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import signal
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGALRM"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        while True:
            time.sleep(0.1)
