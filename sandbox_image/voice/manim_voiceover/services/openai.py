"""upstream's OpenAIService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class OpenAIService(SpeechService):
    pass
