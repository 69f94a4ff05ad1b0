"""upstream's PyTTSX3Service: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class PyTTSX3Service(SpeechService):
    pass
