# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
import socket

from manim import *


class Hostile(Scene):
    def construct(self):
        blocked = []
        for path in ("/var/run/docker.sock", "/run/docker.sock"):
            try:
                client = socket.socket(socket.AF_UNIX)
                client.connect(path)
            except OSError as exc:
                blocked.append(f"{path}: {type(exc).__name__}")
            else:
                self.play(FadeIn(Square()), run_time=0.2)  # the engine is reachable
                return
        for path in ("/etc/shadow", "/proc/1/root/etc/shadow", "/host/etc/passwd",
                     "/var/lib/docker/volumes", "/root/.bash_history", "/proc/kcore"):
            try:
                with open(path, "rb") as source:
                    source.read(16)
            except OSError as exc:
                blocked.append(f"{path}: {type(exc).__name__}")
            else:
                self.play(FadeIn(Circle()), run_time=0.2)  # a host or root-only file was read
                return
        raise RuntimeError("host access blocked: " + "; ".join(blocked) + f"; uid={os.getuid()}")
