# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import ctypes
import os
import subprocess
from pathlib import Path

from manim import *

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000


class Hostile(Scene):
    def construct(self):
        blocked = []
        try:
            os.setuid(0)
        except OSError as exc:
            blocked.append(f"setuid: {exc}")
        else:
            self.play(FadeIn(Square()), run_time=0.2)
            return
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWUSER | CLONE_NEWNS):
            if libc.unshare(flags) == 0:
                self.play(FadeIn(Circle()), run_time=0.2)
                return
            blocked.append(f"unshare({flags:#x}): errno {ctypes.get_errno()}")
        result = subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip() == "0":
            self.play(FadeIn(Triangle()), run_time=0.2)
            return
        blocked.append(f"unshare -r: {result.returncode}")
        status = Path("/proc/self/status").read_text()
        shown = ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Uid", "Groups")
        caps = [line for line in status.splitlines() if line.startswith(shown)]
        raise RuntimeError("privileges blocked: " + "; ".join(blocked + caps))
