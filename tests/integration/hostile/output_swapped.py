# ruff: noqa: F403, F405  (scene code as a model writes it: star import)
import os
import sys
from fractions import Fraction

import av
import numpy
from manim import *


def crafted(path):
    """An MP4 whose first video stream is fine and which carries a second one: what a checker
    that looks only at the first frame of the first stream would let through."""
    with av.open(path, mode="w", format="mp4") as out:
        streams = []
        for width, height in ((320, 240), (64, 64)):
            stream = out.add_stream("libx264", rate=Fraction(15, 1))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append(stream)
        for index in range(15):
            for stream in streams:
                image = numpy.full((stream.height, stream.width, 3), index * 10, dtype=numpy.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    out.mux(packet)
        for stream in streams:
            for packet in stream.encode():
                out.mux(packet)


class Hostile(Scene):
    def construct(self):
        self.play(FadeIn(Square()), run_time=0.5)
        # The scene shares its process with the runner: it wraps the runner's own messages, so
        # the video is swapped after the runner has written and checked its output, in the
        # moment before it tells the host "done" (a forked child racing the fetch, made certain).
        runner = sys.modules["__main__"]
        honest_send = runner.send

        def send(message, /, **fields):
            if message == "done":
                crafted("/work/swap.mp4")
                os.replace("/work/swap.mp4", str(runner.OUTPUT_PATH))
                print("swapped the output for a crafted MP4", file=sys.stderr, flush=True)
            honest_send(message, **fields)

        runner.send = send
