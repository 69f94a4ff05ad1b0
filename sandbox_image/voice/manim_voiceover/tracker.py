"""The object a ``with self.voiceover(...)`` block yields."""

from __future__ import annotations

from typing import Any

import appliance_voice


class VoiceoverTracker:
    def __init__(self, scene: Any, text: str, clip: appliance_voice.Clip) -> None:
        self.scene = scene
        self.text = text
        self.clip = clip
        self.duration = clip.duration
        self.start_t = float(scene.renderer.time or 0.0)
        self.end_t = self.start_t + self.duration
        said = len(clip.text) or 1
        # No word timings from espeak-ng's command line: a bookmark's time is its share of the text.
        self.bookmark_times = {
            mark: self.start_t + self.duration * min(offset, said) / said
            for mark, offset in appliance_voice.bookmark_offsets(text).items()
        }

    def get_remaining_duration(self, buff: float = 0) -> float:
        return max(self.end_t - float(self.scene.renderer.time) + buff, 0)

    def time_until_bookmark(self, mark: str, buff: float = 0, limit: float | None = None) -> float:
        if mark not in self.bookmark_times:
            raise Exception(f"There is no <bookmark mark='{mark}' />")
        result = max(self.bookmark_times[mark] - float(self.scene.renderer.time) + buff, 0)
        return min(limit, result) if limit is not None else result
