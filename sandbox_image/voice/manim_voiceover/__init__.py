"""manim-voiceover's API, narrated by the appliance (offline; see appliance_voice).

Models write narrated scenes the way manim-voiceover's documentation shows:
``class S(VoiceoverScene)``, ``self.set_speech_service(GTTSService())``,
``with self.voiceover(text=...) as tracker: self.play(..., run_time=tracker.duration)``,
bookmarks. The sandbox has no network, so whichever speech service a scene names is
replaced by the appliance's voice; everything else behaves as upstream does: the sound is
added at the block's start, a subcaption is written for it, and the block waits until the
voice has finished.
"""

from manim_voiceover.tracker import VoiceoverTracker
from manim_voiceover.voiceover_scene import VoiceoverScene

__all__ = ["VoiceoverScene", "VoiceoverTracker"]
