"""Narration in the real sandbox, beyond the built-in kinds (test_builtin_render.py):

- a scene written the way models write manim-voiceover scenes (a speech service the sandbox
  cannot reach, bookmarks, ``tracker.duration``) renders with the appliance's voice;
- the corpus scene that uses manim_voiceover renders with sound instead of being refused;
- the operator's speech endpoint (litellm to the loopback OpenAI-compatible stub) speaks the
  video; when it fails, espeak-ng speaks instead, the whole video.

Everything is measured on the rendered file: its streams, the decoded audio, the subtitles
the bounded checker read back from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from appliance.config import Settings
from appliance.contracts import RenderResult, VoiceRequest
from appliance.generation.builtin.solve import solve
from appliance.generation.speech import build_speech, narration_in
from appliance.sandbox.docker import DockerSandbox
from appliance.validation import validate_and_repair
from tests.corpus import corpus_rows
from tests.integration.openai_stub import OpenAIStub, speech_duration_s
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox
from tests.speech import measure_speech

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MODEL_STYLE_SCENE = '''
from manim import *
from manim_voiceover import VoiceoverScene
from manim_voiceover.services.gtts import GTTSService


class SolutionScene(VoiceoverScene):
    def construct(self):
        self.set_speech_service(GTTSService(lang="en", tld="com"))
        equation = MathTex("2x + 3 = 11")
        with self.voiceover(text="We want the x that makes two x plus three equal eleven.") as tracker:
            self.play(Write(equation), run_time=tracker.duration)
        step = MathTex("2x = 8").next_to(equation, DOWN)
        with self.voiceover(text="Take three from both sides, <bookmark mark='A'/>and two x is eight.") as tracker:
            self.wait_until_bookmark("A")
            self.play(FadeIn(step))
        with self.voiceover(text="So x is four.") as tracker:
            self.play(Circumscribe(step), run_time=tracker.duration)
'''
MODEL_STYLE_SAID = ["We want the x that makes two x plus three equal eleven.",
                    "Take three from both sides, and two x is eight.", "So x is four."]


def corpus_voiceover_scene() -> str:
    for row in corpus_rows():
        if "manim_voiceover" in row["code"]:
            return row["code"]
    raise AssertionError("the corpus has no manim_voiceover scene")


def codecs(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return sorted(stream.codec_context.name for stream in container.streams)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerSandbox]:
    settings = make_sandbox_settings(tmp_path_factory.mktemp("narration"), warm_pool_size=0,
                                     render_timeout_s=180.0)
    opened = open_sandbox(settings)
    yield opened
    opened.close()


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def render(sandbox: DockerSandbox, code: str, voice: VoiceRequest) -> RenderResult:
    scene = validate_and_repair(code)
    return sandbox.render(scene.code, scene.scene_name, quality="low", voice=voice)


def test_model_written_voiceover_scenes_render_with_the_appliance_s_voice(sandbox: DockerSandbox) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        model_style, from_corpus = pool.map(
            lambda code: render(sandbox, code, VoiceRequest(True, "en")),
            [MODEL_STYLE_SCENE, corpus_voiceover_scene()])
    try:
        for result in (model_style, from_corpus):
            assert result.ok, f"{result.status} {result.detail} {result.stderr_tail[-1500:]}"
            assert result.video_path is not None and result.has_audio and result.voice_engine == "espeak-ng"
            assert codecs(result.video_path) == ["aac", "h264", "mov_text"]
        assert model_style.video_path is not None
        speech = measure_speech(model_style.video_path)
        assert len(speech.segments) == 3, speech.segments
        assert [cue.text for cue in model_style.subtitles] == MODEL_STYLE_SAID  # bookmark gone
        for (start, _end), cue in zip(speech.segments, model_style.subtitles, strict=True):
            assert abs(start - cue.start_s) <= 0.3
        # The corpus scene names its own subcaption ("Drawing a circle") for the spoken text.
        assert [cue.text for cue in from_corpus.subtitles] == ["Drawing a circle"]
    finally:
        model_style.discard_video()
        from_corpus.discard_video()


def endpoint_settings(tmp_path: Path, stub: OpenAIStub) -> Settings:
    return Settings.from_env({
        "APPLIANCE_SPEECH_MODEL": "openai/kokoro", "APPLIANCE_SPEECH_VOICE": "af_heart",
        "APPLIANCE_SPEECH_API_BASE": stub.base_url, "APPLIANCE_SPEECH_API_KEY": "sk-local-kokoro",
    }, data_dir=tmp_path)


def test_the_operator_s_speech_endpoint_speaks_and_espeak_ng_takes_over_when_it_fails(
        tmp_path: Path, sandbox: DockerSandbox, stub: OpenAIStub) -> None:
    speech = build_speech(endpoint_settings(tmp_path, stub))
    assert speech is not None
    solution = solve("Solve 2x + 3 = 11")
    assert solution.narration and narration_in(MODEL_STYLE_SCENE) == MODEL_STYLE_SAID

    clips = speech.synthesize(solution.narration, "en")
    assert [clip.text for clip in clips] == solution.narration
    stub.fail_speech("http_500")
    assert speech.synthesize(solution.narration, "en") == ()  # the fallback: no clip at all
    with ThreadPoolExecutor(max_workers=2) as pool:
        voiced, fallback = pool.map(
            lambda voice: sandbox.render(solution.code, solution.scene_name, quality="low", voice=voice),
            [VoiceRequest(True, "en", clips), VoiceRequest(True, "en", ())])
    try:
        assert voiced.ok and fallback.ok, (voiced.stderr_tail[-1500:], fallback.stderr_tail[-1500:])
        assert voiced.voice_engine == "clips" and fallback.voice_engine == "espeak-ng"
        assert voiced.video_path is not None and fallback.video_path is not None
        # The clips are what is heard: each narration lasts as long as the endpoint's audio.
        heard = measure_speech(voiced.video_path)
        assert len(heard.segments) == len(solution.narration)
        for (start, end), text in zip(heard.segments, solution.narration, strict=True):
            assert end - start == pytest.approx(speech_duration_s(text), abs=0.35)
        assert [cue.text for cue in voiced.subtitles] == [cue.text for cue in fallback.subtitles]
        assert len(measure_speech(fallback.video_path).segments) == len(solution.narration)
    finally:
        voiced.discard_video()
        fallback.discard_video()
