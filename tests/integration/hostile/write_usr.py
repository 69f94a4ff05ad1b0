# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
from manim import *


class Hostile(Scene):
    def construct(self):
        try:
            with open("/usr/lib/python3/dist-packages/evil.pth", "w") as sink:
                sink.write("import os\n")
        except OSError as exc:
            # How the root filesystem is mounted, as this kernel (the host's or gVisor's) says.
            with open("/proc/self/mountinfo") as mounts:
                root = next(line.split()[5] for line in mounts if line.split()[4] == "/")
            raise RuntimeError(f"write blocked: {exc}; root mounted {root}") from None
        self.play(FadeIn(Square()), run_time=0.2)  # reached only if /usr was writable
