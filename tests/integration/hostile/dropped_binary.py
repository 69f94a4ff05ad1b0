# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
import shutil
import subprocess

from manim import *


class Hostile(Scene):
    def construct(self):
        blocked = []
        for directory in ("/tmp", "/work", "/dev/shm"):
            target = os.path.join(directory, "dropped")
            try:
                shutil.copy("/bin/true", target)
                os.chmod(target, 0o755)
                subprocess.run([target], check=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                blocked.append(f"{directory}: {exc}")
                continue
            self.play(FadeIn(Square()), run_time=0.2)  # a dropped binary ran
            return
        raise RuntimeError("exec blocked: " + "; ".join(blocked))
