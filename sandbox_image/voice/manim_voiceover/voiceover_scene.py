"""VoiceoverScene with the appliance's voice (upstream's API, offline)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any

import appliance_voice
from manim import Scene, config

from manim_voiceover.tracker import VoiceoverTracker

PAUSE_AFTER_S = 0.6  # between two narrations: a breath, and a gap a listener (and a test) can hear


class VoiceoverScene(Scene):
    current_tracker: VoiceoverTracker | None = None
    create_subcaption: bool = True

    def set_speech_service(self, speech_service: Any = None, create_subcaption: bool = True, **_: Any) -> None:
        # Whatever service the scene names, the appliance's voice speaks (no network here).
        self.speech_service = speech_service
        self.create_subcaption = bool(create_subcaption) and not config.save_last_frame

    def init_voiceover(self, *args: Any, **kwargs: Any) -> None:  # an old upstream name
        self.set_speech_service(*args, **kwargs)

    def add_voiceover_text(self, text: str, subcaption: str | None = None, max_subcaption_len: int = 90,
                           subcaption_buff: float = 0.1, **_: Any) -> VoiceoverTracker:
        clip = appliance_voice.speak(str(text))
        tracker = VoiceoverTracker(self, str(text), clip)
        if clip.path is not None:
            self.add_sound(str(clip.path))
        self.current_tracker = tracker
        if getattr(self, "create_subcaption", True):
            shown = appliance_voice.plain_text(subcaption if subcaption is not None else str(text))
            self.add_wrapped_subcaption(shown, tracker.duration, subcaption_buff, max_subcaption_len)
        return tracker

    def add_wrapped_subcaption(self, subcaption: str, duration: float, subcaption_buff: float = 0.1,
                               max_subcaption_len: int = 90) -> None:
        words = subcaption.split()
        if not words:
            return
        pieces = max(1, ceil(len(subcaption) / max(10, max_subcaption_len)))
        per_piece = ceil(len(words) / pieces)
        texts = [" ".join(words[i:i + per_piece]) for i in range(0, len(words), per_piece)]
        total = sum(len(text) for text in texts) or 1
        offset = 0.0
        for text in texts:
            share = duration * len(text) / total
            self.add_subcaption(text, duration=max(share - subcaption_buff, 0.1), offset=offset)
            offset += share

    def add_voiceover_ssml(self, ssml: str, **kwargs: Any) -> VoiceoverTracker:
        return self.add_voiceover_text(ssml, **kwargs)

    def safe_wait(self, duration: float) -> None:
        if duration > 1 / config["frame_rate"]:
            self.wait(duration)

    def wait_for_voiceover(self) -> None:
        if self.current_tracker is not None:
            self.safe_wait(self.current_tracker.get_remaining_duration())

    def wait_until_bookmark(self, mark: str) -> None:
        if self.current_tracker is None:
            raise RuntimeError("No active voiceover tracker is available.")
        self.safe_wait(self.current_tracker.time_until_bookmark(mark))

    @contextmanager
    def voiceover(self, text: str | None = None, ssml: str | None = None,
                  **kwargs: Any) -> Iterator[VoiceoverTracker]:
        if text is None and ssml is None:
            raise ValueError("Please specify either a voiceover text or SSML string.")
        try:
            yield self.add_voiceover_text(text if text is not None else str(ssml), **kwargs)
        finally:
            self.wait_for_voiceover()
            self.safe_wait(PAUSE_AFTER_S)
