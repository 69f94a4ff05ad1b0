# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import threading
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        # Threads cost almost no memory: only the process limit stops them (a fork bomb under
        # gVisor meets the memory limit first, each fork costing tens of MB there).
        started = 0
        try:
            while started < 100000:
                threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
                started += 1
        except RuntimeError as exc:  # "can't start new thread": the runner reports the process limit
            raise RuntimeError(f"threads started: {started}, then {exc}") from None
        self.play(FadeIn(Square()), run_time=0.2)  # reached only if nothing stopped 100000 threads
