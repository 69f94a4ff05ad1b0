# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import socket

from manim import *


class Hostile(Scene):
    def construct(self):
        errors = []
        for host, port in (("1.1.1.1", 53), ("8.8.8.8", 443), ("172.17.0.1", 2375), ("10.0.2.2", 80)):
            try:
                socket.create_connection((host, port), timeout=2).close()
            except OSError as exc:
                errors.append(f"{host}:{port} {exc}")
                continue
            self.play(FadeIn(Square()), run_time=0.2)  # a connection got out
            return
        try:
            socket.getaddrinfo("pypi.org", 443)
        except OSError as exc:
            errors.append(f"dns {exc}")
        else:
            self.play(FadeIn(Circle()), run_time=0.2)  # a DNS lookup worked
            return
        raise RuntimeError("network blocked: " + "; ".join(errors))
