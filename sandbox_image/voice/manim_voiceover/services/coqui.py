"""upstream's CoquiService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class CoquiService(SpeechService):
    pass
