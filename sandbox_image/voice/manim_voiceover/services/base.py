"""The base every speech service shares: it accepts upstream's arguments and keeps none of
them (a key or a URL a scene passes goes nowhere: the sandbox has no network)."""

from __future__ import annotations

from typing import Any


class SpeechService:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.cache_dir = "/work/voice"
        self.transcription_model = None

    def set_transcription(self, *args: Any, **kwargs: Any) -> None:
        pass
