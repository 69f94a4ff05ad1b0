"""upstream's GTTSService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class GTTSService(SpeechService):
    pass
