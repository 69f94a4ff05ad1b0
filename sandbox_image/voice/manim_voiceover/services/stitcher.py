"""upstream's StitcherService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class StitcherService(SpeechService):
    pass
