"""Speech measured on a video's decoded audio: where the voice is, as silence-separated
segments (tests of narration assert on these, not on what the runner claims)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

WINDOW_S = 0.02
# Quieter than this (relative to the loudest window) is silence: espeak-ng's pauses between
# words fall far below it, its voiced sounds far above.
SILENCE_RATIO = 0.04
# A pause inside one narration (between words, after a comma or a full stop) is shorter than
# this; the scenes leave a longer gap between two narrations.
MIN_GAP_S = 0.45
MIN_SEGMENT_S = 0.15


@dataclass(frozen=True)
class Speech:
    duration_s: float  # of the audio track
    segments: tuple[tuple[float, float], ...]  # (start, end) seconds of each stretch of voice

    @property
    def spoken_s(self) -> float:
        return sum(end - start for start, end in self.segments)


def decode_mono(path: Path) -> tuple[np.ndarray, int]:
    """The audio track as mono float samples, and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = []
        for frame in container.decode(stream):
            samples = frame.to_ndarray().astype(np.float64)
            if frame.format.is_planar:
                samples = samples.mean(axis=0)
            else:
                samples = samples.reshape(-1, len(frame.layout.channels)).mean(axis=1)
            chunks.append(samples.ravel())
    return (np.concatenate(chunks) if chunks else np.zeros(0)), rate


def measure_speech(path: Path) -> Speech:
    samples, rate = decode_mono(path)
    window = max(1, int(rate * WINDOW_S))
    count = len(samples) // window
    if count == 0:
        return Speech(0.0, ())
    rms = np.sqrt((samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    loud = rms > max(rms.max() * SILENCE_RATIO, 1e-6)
    segments: list[list[float]] = []
    for index in np.flatnonzero(loud):
        start, end = index * WINDOW_S, (index + 1) * WINDOW_S
        if segments and start - segments[-1][1] < MIN_GAP_S:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    kept = tuple((round(float(s), 3), round(float(e), 3)) for s, e in segments if e - s >= MIN_SEGMENT_S)
    return Speech(len(samples) / rate, kept)
