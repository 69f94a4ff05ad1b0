"""The speech endpoint over real HTTP: litellm's ``speech`` path to the loopback OpenAI stub's
``/v1/audio/speech``, which answers with real WAV audio (or fails, when told to).

What is checked: the clips and their durations are the stub's audio; the model, voice and
key travel as configured; every failure (HTTP 500, audio that is not a WAV, a refused
connection, a timeout, one failure among several texts) gives () and one warning, so the
sandbox's espeak-ng speaks the whole video; nothing is asked when nothing should be.
"""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.contracts import SpeechClip, VoiceRequest
from appliance.generation.speech import MAX_TEXTS, EndpointSpeech, build_speech, narration_in
from tests.integration.openai_stub import (
    SPEECH_RATE_HZ,
    OpenAIStub,
    speech_duration_s,
    unused_port_url,
)
from tests.speech import measure_speech

KEY = "sk-speech-test-key-123456"

SCENE = '''
from manim import *
from manim_voiceover import VoiceoverScene

class Solution(VoiceoverScene):
    def construct(self):
        with self.voiceover(text="We solve two x equals four.") as tracker:
            self.play(Write(MathTex("2x = 4")), run_time=tracker.duration)
        with self.voiceover(text="Divide both sides <bookmark mark='A'/>by two.") as tracker:
            self.wait_until_bookmark("A")
        with self.voiceover(text="So x equals two."):
            self.wait()
'''
SAID = ["We solve two x equals four.", "Divide both sides by two.", "So x equals two."]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def speech_settings(tmp_path: Path, stub: OpenAIStub | str, **env: str) -> Settings:
    base = stub.base_url if isinstance(stub, OpenAIStub) else stub
    values = {
        "APPLIANCE_SPEECH_MODEL": "openai/kokoro",
        "APPLIANCE_SPEECH_VOICE": "af_heart",
        "APPLIANCE_SPEECH_API_BASE": base,
        "APPLIANCE_SPEECH_API_KEY": KEY,
        "APPLIANCE_SPEECH_TIMEOUT_S": "10",
    }
    values.update(env)
    return Settings.from_env({name: value for name, value in values.items() if value}, data_dir=tmp_path)


def synthesizer(settings: Settings) -> EndpointSpeech:
    built = build_speech(settings)
    assert isinstance(built, EndpointSpeech)
    return built


def read_wav(clip: SpeechClip) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(clip.wav), "rb") as audio:
        return audio.getnchannels(), audio.getsampwidth(), audio.getframerate(), audio.getnframes()


def fell_back(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "appliance.generation.speech" and r.levelno == logging.WARNING]


# -- the voice ------------------------------------------------------------------------------


def test_every_narration_of_a_scene_comes_back_as_the_stubs_audio(tmp_path: Path, stub: OpenAIStub) -> None:
    texts = narration_in(SCENE)
    assert texts == SAID
    clips = synthesizer(speech_settings(tmp_path, stub)).synthesize(texts, "en")
    assert [clip.text for clip in clips] == SAID
    for clip in clips:
        assert clip.duration_s == pytest.approx(speech_duration_s(clip.text))
        channels, width, rate, frames = read_wav(clip)
        assert (channels, width, rate) == (1, 2, SPEECH_RATE_HZ)
        assert frames / rate == pytest.approx(clip.duration_s)
    # Handed to the sandbox under the exact text it will look up.
    request = VoiceRequest(language="en", clips=clips).for_sandbox()
    assert request["clips"] == {clip.text: clip.file_name for clip in clips}


def test_the_model_voice_and_key_travel_as_configured(tmp_path: Path, stub: OpenAIStub) -> None:
    synthesizer(speech_settings(tmp_path, stub)).synthesize(SAID, "en")
    requests = stub.speech_requests
    assert sorted(str(r.body["input"]) for r in requests) == sorted(SAID)  # sent in parallel: any order
    for request in requests:
        assert request.model == "kokoro"  # litellm strips its provider prefix
        assert request.body["voice"] == "af_heart"
        assert request.body["response_format"] == "wav"
        assert request.authorization == f"Bearer {KEY}"
    assert stub.requests == []  # no chat call


def test_without_a_speech_key_the_openai_server_gets_its_own_key(tmp_path: Path, stub: OpenAIStub) -> None:
    settings = speech_settings(
        tmp_path, stub, APPLIANCE_SPEECH_API_BASE="", APPLIANCE_SPEECH_API_KEY="",
        OPENAI_API_BASE=stub.base_url, OPENAI_API_KEY="sk-openai-compatible-654321",
    )
    assert len(synthesizer(settings).synthesize(SAID[:1], "en")) == 1
    assert stub.speech_requests[0].authorization == "Bearer sk-openai-compatible-654321"


def test_the_audio_is_real_speech_like_sound_with_loud_and_quiet_parts(tmp_path: Path, stub: OpenAIStub) -> None:
    # Ten spaces are 0.6 s of silence: a decoder (PyAV) hears two stretches of voice.
    text = "Hello" + " " * 10 + "world"
    (clip,) = synthesizer(speech_settings(tmp_path, stub)).synthesize([text], "en")
    path = tmp_path / clip.file_name
    path.write_bytes(clip.wav)
    speech = measure_speech(path)
    assert speech.duration_s == pytest.approx(clip.duration_s, abs=0.03)
    assert len(speech.segments) == 2
    gap = speech.segments[1][0] - speech.segments[0][1]
    assert gap == pytest.approx(0.6, abs=0.1)


def test_a_streamed_wav_with_placeholder_sizes_is_handed_on_with_true_ones(tmp_path: Path, stub: OpenAIStub) -> None:
    stub.streamed_wav_sizes = True  # as OpenAI's own answers
    (clip,) = synthesizer(speech_settings(tmp_path, stub)).synthesize(["Streamed like OpenAI."], "en")
    assert clip.duration_s == pytest.approx(speech_duration_s("Streamed like OpenAI."))
    assert read_wav(clip)[3] == round(clip.duration_s * SPEECH_RATE_HZ)
    assert int.from_bytes(clip.wav[4:8], "little") == len(clip.wav) - 8


# -- every failure: () and espeak-ng --------------------------------------------------------


def test_an_http_500_falls_back_with_one_warning(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_speech("http_500")
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    assert synthesizer(speech_settings(tmp_path, stub)).synthesize(SAID, "en") == ()
    (warning,) = fell_back(caplog)
    assert "HTTP 500" in warning and "espeak-ng" in warning
    assert KEY not in caplog.text


def test_audio_that_is_not_a_wav_falls_back(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_speech("garbage")
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    assert synthesizer(speech_settings(tmp_path, stub)).synthesize(SAID, "en") == ()
    (warning,) = fell_back(caplog)
    assert "not a PCM WAV" in warning


def test_one_failure_among_several_texts_voids_them_all(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_speech("http_500", after=1)  # the first answer is good audio, then 500s
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    assert synthesizer(speech_settings(tmp_path, stub)).synthesize(SAID, "en") == ()
    assert len(fell_back(caplog)) == 1
    assert len(stub.speech_requests) >= 2


def test_a_refused_connection_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    assert synthesizer(speech_settings(tmp_path, unused_port_url())).synthesize(SAID[:1], "en") == ()
    (warning,) = fell_back(caplog)
    assert "connect" in warning


def test_a_server_slower_than_the_timeout_falls_back(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.speech_delay_s = 600  # woken when the stub stops
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    settings = speech_settings(tmp_path, stub, APPLIANCE_SPEECH_TIMEOUT_S="0.5")
    assert synthesizer(settings).synthesize(SAID[:1], "en") == ()
    (warning,) = fell_back(caplog)
    assert "timed out after 0.5 s" in warning


# -- nothing asked --------------------------------------------------------------------------


def test_no_model_no_request(tmp_path: Path, stub: OpenAIStub) -> None:
    settings = Settings.from_env(
        {"OPENAI_API_BASE": stub.base_url, "APPLIANCE_SPEECH_API_BASE": stub.base_url, "APPLIANCE_SPEECH_API_KEY": KEY},
        data_dir=tmp_path,
    )
    assert build_speech(settings) is None
    assert stub.all_requests == []


def test_a_scene_with_too_many_narrations_asks_nothing(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    texts = [f"Narration number {n}." for n in range(MAX_TEXTS + 1)]
    assert synthesizer(speech_settings(tmp_path, stub)).synthesize(texts, "en") == ()
    assert stub.all_requests == []
    assert len(fell_back(caplog)) == 1


class SpentBudget:
    def try_spend(self) -> bool:
        return False


def test_a_spent_budget_of_model_calls_asks_nothing(
    tmp_path: Path, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.generation.speech")
    built = build_speech(speech_settings(tmp_path, stub), budget=SpentBudget())
    assert built is not None and built.synthesize(SAID, "en") == ()
    assert stub.all_requests == []
    assert "budget" in fell_back(caplog)[0]
