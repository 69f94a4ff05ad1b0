"""upstream's AzureService: here, the appliance's voice."""

from manim_voiceover.services.base import SpeechService


class AzureService(SpeechService):
    pass
