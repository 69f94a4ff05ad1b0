"""upstream's ElevenLabsService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class ElevenLabsService(SpeechService):
    pass
