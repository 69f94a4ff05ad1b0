"""The speech endpoint's pieces that need no server: which texts a scene narrates, what a
clip may be, and where the settings send the requests (the HTTP path is in
tests/integration/test_speech_endpoint.py)."""

from __future__ import annotations

import importlib.util
import io
import struct
import sys
import wave
from pathlib import Path
from types import ModuleType

import pytest

from appliance.config import Settings
from appliance.errors import ConfigError
from appliance.generation import speech
from appliance.generation.llm import NO_KEY_PLACEHOLDER, OPENAI_API_BASE
from appliance.generation.speech import BadAudio, EndpointSpeech, build_speech, checked_wav, narration_in, said_text

ROOT = Path(__file__).resolve().parents[2]


def sandbox_voice() -> ModuleType:
    """The sandbox's own voice module (standard library only), loaded from sandbox_image/."""
    spec = importlib.util.spec_from_file_location("appliance_voice", ROOT / "sandbox_image/voice/appliance_voice.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


# -- narration_in ---------------------------------------------------------------------------

SCENE = '''
from manim import *
from manim_voiceover import VoiceoverScene

INTRO = "Known only by name."

class Solution(VoiceoverScene):
    def construct(self):
        with self.voiceover(text="We solve  two x plus three\\n equals seven.") as tracker:
            self.play(Write(Text("2x + 3 = 7")), run_time=tracker.duration)
        with self.voiceover("Subtract three <bookmark mark='A'/>from both sides.") as tracker:
            self.wait_until_bookmark("A")
        value = 2
        with self.voiceover(text=f"So x equals {value}."):
            self.wait()
        with self.voiceover(text=INTRO):
            self.wait()
        with self.voiceover(text="Divide " "by two."):
            self.wait()
        self.add_voiceover_text("The answer is two.")
        self.voiceover(ssml="Said through SSML.")
        self.play(Write(Text("not narrated")))
        narrator.voiceover(text="someone else's voiceover")
        voiceover(text="a function, not the scene's method")
        with self.voiceover(text="We solve two x plus three equals seven."):
            self.wait()
'''


def test_the_literal_narrations_come_back_in_source_order_as_the_sandbox_says_them() -> None:
    assert narration_in(SCENE) == [
        "We solve two x plus three equals seven.",  # white space collapsed; the repeat at the end: once
        "Subtract three from both sides.",  # the bookmark removed
        "Divide by two.",  # implicit concatenation is one literal
        "The answer is two.",
        "Said through SSML.",
    ]


def test_source_order_is_line_order_not_tree_order() -> None:
    code = '''
class S(VoiceoverScene):
    def construct(self):
        if True:
            for _ in range(1):
                with self.voiceover(text="one"):
                    pass
        self.voiceover(text="two")
        self.outro()

    def outro(self):
        self.voiceover(text="three")
'''
    # ``ast.walk`` is breadth-first: it meets "two" before the deeper "one"; lines decide.
    assert narration_in(code) == ["one", "two", "three"]


def test_texts_known_only_at_render_time_are_skipped_or_void_the_whole_list() -> None:
    code = '''
class S(VoiceoverScene):
    def construct(self):
        with self.voiceover(text="A literal."):
            pass
        for words in STEPS:
            with self.voiceover(text=words):
                pass
        with self.voiceover(text=f"x is {x}"):
            pass
'''
    assert narration_in(code) == ["A literal."]
    assert narration_in(code, all_or_nothing=True) == []
    every_text_known = code.replace("text=words", "text='A step.'").replace('f"x is {x}"', '"The end."')
    assert narration_in(every_text_known, all_or_nothing=True) == ["A literal.", "A step.", "The end."]


def test_empty_texts_and_unparseable_code_have_no_narration() -> None:
    assert narration_in("class S(VoiceoverScene):\n    def construct(self):\n        self.voiceover(text='  ')\n") == []
    assert narration_in("def broken(:\n") == []
    assert narration_in("x = '\x00'") == []


def test_the_text_is_normalized_exactly_as_the_sandbox_looks_it_up() -> None:
    voice = sandbox_voice()
    assert speech.MAX_TEXT_CHARS == voice.MAX_TEXT_CHARS
    samples = [
        "plain",
        "  runs\tof\n\nwhite   space  ",
        "a <bookmark mark='A'/>b<bookmark mark = \"B\" />c",
        "word<bookmark mark='x'/>word",
        "long " * 200,
        "Два икс равно четырём.",
    ]
    for text in samples:
        assert said_text(text) == voice.plain_text(text)[: voice.MAX_TEXT_CHARS]


# -- checked_wav ------------------------------------------------------------------------------


def make_wav(seconds: float, rate: int = 24_000, channels: int = 1, width: int = 2) -> bytes:
    frames = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(width)
        audio.setframerate(rate)
        size = frames * channels * width
        audio.writeframes(bytes(range(256)) * (size // 256) + bytes(size % 256))
    return out.getvalue()


def frames_of(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnchannels(), audio.getframerate(), audio.getnframes(), audio.readframes(10**9)


def test_a_mono_pcm_wav_passes_with_its_duration() -> None:
    data = make_wav(1.5)
    wav, duration = checked_wav(data)
    assert duration == pytest.approx(1.5)
    assert wav == data  # already plain: the copy is the same file


def test_stereo_and_the_edge_rates_pass() -> None:
    assert checked_wav(make_wav(0.5, rate=48_000, channels=2))[1] == pytest.approx(0.5)
    assert checked_wav(make_wav(0.5, rate=8_000))[1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (make_wav(1.0, width=1), "8-bit"),
        (make_wav(1.0, width=3), "24-bit"),
        (make_wav(1.0, channels=3), "3 channels"),
        (make_wav(1.0, rate=96_000), "96000 Hz"),
        (make_wav(1.0, rate=4_000), "4000 Hz"),
        (make_wav(0.05), "0.05 s"),
        (make_wav(61.0, rate=8_000), "61.00 s"),
        (b"ID3\x04 an mp3 perhaps" * 10, "not a PCM WAV"),
        (b"", "not a PCM WAV"),
        (make_wav(1.0)[:30], "not a PCM WAV"),  # cut inside the header
    ],
)
def test_anything_else_is_refused_with_the_reason(data: bytes, why: str) -> None:
    with pytest.raises(BadAudio, match=why):
        checked_wav(data)


def test_a_float_wav_is_refused() -> None:
    samples = struct.pack("<24000f", *([0.25] * 24_000))
    fmt = struct.pack("<HHIIHH", 3, 1, 24_000, 96_000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    data = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    data += b"data" + struct.pack("<I", len(samples)) + samples
    with pytest.raises(BadAudio, match="not a PCM WAV"):
        checked_wav(data)


def test_more_than_eight_megabytes_is_refused_before_it_is_read() -> None:
    with pytest.raises(BadAudio, match="MB"):
        checked_wav(b"RIFF" + bytes(speech.MAX_WAV_BYTES))


def test_placeholder_sizes_of_a_streamed_wav_are_replaced_by_the_true_ones() -> None:
    data = bytearray(make_wav(0.75))
    data[4:8] = data[40:44] = b"\xff\xff\xff\xff"  # as OpenAI's and Kokoro-FastAPI's streamed answers
    with wave.open(io.BytesIO(bytes(data)), "rb") as audio:
        assert audio.getnframes() > 10**9  # what a reader trusting the header would believe
    wav, duration = checked_wav(bytes(data))
    assert duration == pytest.approx(0.75)
    assert frames_of(wav)[2] == 18_000
    assert struct.unpack("<I", wav[4:8])[0] == len(wav) - 8
    assert frames_of(wav)[3] == frames_of(make_wav(0.75))[3]


def test_chunks_after_the_audio_and_a_torn_last_frame_are_dropped() -> None:
    plain = make_wav(0.5, channels=2)
    with_trailer = plain + b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    wav, duration = checked_wav(with_trailer)
    assert (wav, duration) == (plain, pytest.approx(0.5))
    torn = bytearray(plain + b"\x01\x02\x03")  # three bytes of a four-byte frame, sizes unknown
    torn[4:8] = torn[40:44] = b"\xff\xff\xff\xff"
    assert checked_wav(bytes(torn)) == (plain, pytest.approx(0.5))


# -- the settings ---------------------------------------------------------------------------


def settings_with(tmp_path: Path, env: dict[str, str]) -> Settings:
    return Settings.from_env(env, data_dir=tmp_path)


def endpoint(tmp_path: Path, env: dict[str, str]) -> EndpointSpeech:
    built = build_speech(settings_with(tmp_path, env))
    assert isinstance(built, EndpointSpeech)
    return built


def test_no_model_no_synthesizer(tmp_path: Path) -> None:
    assert build_speech(settings_with(tmp_path, {"OPENAI_API_KEY": "sk-openai-123456"})) is None


def test_openai_by_default_with_the_openai_key(tmp_path: Path) -> None:
    built = endpoint(tmp_path, {"APPLIANCE_SPEECH_MODEL": "openai/tts-1", "OPENAI_API_KEY": "sk-openai-123456"})
    assert (built.model, built.voice, built.api_base, built.timeout_s) == ("openai/tts-1", "alloy", OPENAI_API_BASE, 20)
    assert built.api_key == "sk-openai-123456"


def test_the_chat_models_openai_compatible_server_goes_with_its_key(tmp_path: Path) -> None:
    built = endpoint(tmp_path, {
        "APPLIANCE_SPEECH_MODEL": "openai/tts-1",
        "OPENAI_API_BASE": "http://127.0.0.1:8000/v1",
        "OPENAI_API_KEY": "sk-local-123456",
    })
    assert (built.api_base, built.api_key) == ("http://127.0.0.1:8000/v1", "sk-local-123456")


def test_a_named_speech_server_gets_its_own_key_or_none_never_the_openai_key(tmp_path: Path) -> None:
    env = {
        "APPLIANCE_SPEECH_MODEL": "openai/kokoro",
        "APPLIANCE_SPEECH_API_BASE": "http://127.0.0.1:8880/v1",
        "APPLIANCE_SPEECH_VOICE": "af_heart",
        "APPLIANCE_SPEECH_TIMEOUT_S": "7.5",
        "OPENAI_API_KEY": "sk-openai-123456",
    }
    built = endpoint(tmp_path, env)
    assert (built.api_base, built.api_key, built.voice, built.timeout_s) == (
        "http://127.0.0.1:8880/v1", NO_KEY_PLACEHOLDER, "af_heart", 7.5)
    assert endpoint(tmp_path, {**env, "APPLIANCE_SPEECH_API_KEY": "kokoro-key-1"}).api_key == "kokoro-key-1"


def test_an_explicit_speech_key_wins_over_the_openai_key(tmp_path: Path) -> None:
    built = endpoint(tmp_path, {
        "APPLIANCE_SPEECH_MODEL": "openai/tts-1",
        "APPLIANCE_SPEECH_API_KEY": "sk-speech-123456",
        "OPENAI_API_KEY": "sk-openai-123456",
    })
    assert (built.api_base, built.api_key) == (OPENAI_API_BASE, "sk-speech-123456")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APPLIANCE_SPEECH_MODEL": "openai/tts-1"}, "needs a key"),
        ({"APPLIANCE_SPEECH_MODEL": "tts-1", "OPENAI_API_KEY": "k"}, "openai/NAME"),
        ({"APPLIANCE_SPEECH_MODEL": "groq/playai-tts", "OPENAI_API_KEY": "k"}, "openai/NAME"),
        ({"APPLIANCE_SPEECH_MODEL": "openai/tts-1", "OPENAI_API_KEY": "k", "APPLIANCE_SPEECH_TIMEOUT_S": "0"},
         "APPLIANCE_SPEECH_TIMEOUT_S"),
    ],
)
def test_bad_speech_settings_fail_at_start_up(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_with(tmp_path, env)


def test_the_speech_key_is_a_secret_that_no_repr_shows(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, {
        "APPLIANCE_SPEECH_MODEL": "openai/kokoro",
        "APPLIANCE_SPEECH_API_BASE": "http://127.0.0.1:8880/v1",
        "APPLIANCE_SPEECH_API_KEY": "kokoro-secret-key",
        "GROQ_API_KEY": "gsk-groq-secret",
    })
    assert "kokoro-secret-key" in settings.secret_values()
    for shown in (repr(settings), str(settings), repr(build_speech(settings))):
        assert "kokoro-secret-key" not in shown and "gsk-groq-secret" not in shown
    assert "speech_api_key=***" in repr(settings)
    assert "speech_model='openai/kokoro'" in repr(settings)
    with pytest.raises(ConfigError) as refused:
        settings_with(tmp_path, {"APPLIANCE_SPEECH_API_KEY": "kokoro-secret-key", "APPLIANCE_SPEECH_TIMEOUT_S": "x"})
    assert "kokoro-secret-key" not in str(refused.value)


def test_nothing_to_say_asks_nothing(tmp_path: Path) -> None:
    # An unreachable server: any request would fail loudly in the log; none is made.
    built = EndpointSpeech("openai/tts-1", "alloy", api_base="http://127.0.0.1:9/v1", api_key="k", timeout_s=1)
    assert built.synthesize([], "en") == ()
    assert built.synthesize(["", ""], "en") == ()
