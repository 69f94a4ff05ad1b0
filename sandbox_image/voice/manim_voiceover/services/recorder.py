"""upstream's RecorderService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class RecorderService(SpeechService):
    pass
