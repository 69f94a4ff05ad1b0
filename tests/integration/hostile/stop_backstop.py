# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
import signal
import sys
import time

from manim import *


class Hostile(Scene):
    def construct(self):
        # Freeze the in-container backstop (the runner's parent), PID 1 and everything else this
        # user may signal, then never finish: only a backstop the scene cannot stop ends this.
        outcomes = []
        for target in (os.getppid(), 1, -1):
            try:
                os.kill(target, signal.SIGSTOP)
                outcomes.append(f"{target}: stopped")
            except OSError as exc:
                outcomes.append(f"{target}: {exc.strerror}")
        print("BACKSTOP-ATTACK " + "; ".join(outcomes), file=sys.stderr, flush=True)
        while True:
            time.sleep(1)
