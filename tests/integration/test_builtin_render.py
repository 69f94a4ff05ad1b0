"""Every kind of built-in solution renders to a narrated, subtitled MP4 in the real sandbox."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from appliance.config import SETTINGS, Settings
from appliance.contracts import RenderResult, SubtitleCue, VoiceRequest
from appliance.generation.builtin import KINDS, solve
from appliance.generation.builtin.solve import work
from appliance.generation.builtin.templates import narration_texts
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox
from tests.speech import measure_speech

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# One problem per kind, spread over the five languages (Cyrillic narration included).
ONE_PER_KIND = {
    "linear_equation": "Solve 2x + 3 = 11",
    "quadratic_equation": "Résous x^2 - 2x - 1 = 0",
    "equation": "Löse x^3 - 6x^2 + 11x - 6 = 0",
    "linear_system": "Реши систему: x + y = 3, x - y = 1",
    "inequality": "Resuelve la desigualdad x^2 - 4 > 0",
    "derivative": "Найди производную функции y = x^2 sin x",
    "indefinite_integral": "Integrate x e^x dx",
    "definite_integral": "Calcula la integral de x^2 de 0 a 3",
    "limit": "Calcule la limite de (x^2 - 4)/(x - 2) quand x tend vers 2",
    "simplify": "Vereinfache (x^2 - 1)/(x - 1)",
    "expand": "Expand (x + 2)(x - 3)",
    "factor": "Разложи на множители 2x^2 - 8",
    "arithmetic": "What is 3/4 + 5/6?",
    "plot": "Zeichne f(x) = x^3 - 3x",
    "pythagorean": "La hipotenusa mide 13 y un cateto 5. Halla el otro cateto.",
    "area": "Площадь круга радиусом 5 см",
}
# Paths within a kind that draw something the list above does not: an axis named in angles
# (π/2, π) and families of points (x = πk). Named "kind/variant".
VARIANTS = {
    "equation/trigonometric": "Solve 2 sin(x) = 1",
    "plot/periodic": "Построй график y = cos(2x)",
}
RENDERS = {**ONE_PER_KIND, **VARIANTS}


@dataclass
class Rendered:
    """One kind's built-in video, rendered once for every test below."""

    narrations: list[str]  # what the scene says, in order (the template's own list)
    language: str
    result: RenderResult
    path: Path | None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Rendered]]]:
    """Every kind rendered narrated, two at a time (the machine's two CPUs), with the
    appliance's default render time limit: the figure that matters on a busy two-core machine."""
    default_timeout = float(next(s.default for s in SETTINGS if s.name == "render_timeout_s"))
    settings: Settings = make_sandbox_settings(tmp_path_factory.mktemp("builtin-render"),
                                               render_timeout_s=default_timeout, warm_pool_size=0)
    sandbox = open_sandbox(settings)
    keep = tmp_path_factory.mktemp("builtin-videos")

    def render_one(name: str) -> Rendered:
        problem = RENDERS[name]
        solution = solve(problem)
        assert solution.kind == name.split("/")[0]
        worked, language = work(problem)
        result = sandbox.render(solution.code, solution.scene_name, quality="low",
                                voice=VoiceRequest(True, language))
        path = None
        if result.video_path is not None:
            path = keep / f"{name.replace('/', '-')}.mp4"
            shutil.move(result.video_path, path)
        return Rendered(narration_texts(worked, language), language, result, path)

    # Started at once, two at a time; each test waits only for its own kind, so the time limit
    # of a test is the time its render takes, not the whole set's.
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        yield {name: pool.submit(render_one, name) for name in sorted(RENDERS)}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        sandbox.close()


def test_the_render_list_covers_every_kind_and_language() -> None:
    assert set(ONE_PER_KIND) == set(KINDS)
    assert {work(problem)[1] for problem in ONE_PER_KIND.values()} == {"en", "es", "ru", "de", "fr"}


def video_facts(path: Path) -> tuple[int, int, float, list[str]]:
    """(width, height, seconds, stream codecs) read from the file itself."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        seconds = frames / float(stream.average_rate or 15)
        codecs = [s.codec_context.name for s in container.streams]
        return stream.width, stream.height, seconds, codecs


def said(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("kind", sorted(RENDERS))
def test_each_kind_renders_a_narrated_video(kind: str, rendered: dict[str, Future[Rendered]]) -> None:
    """What a viewer checks: a video with a voice in the problem's language that speaks for
    most of it, one stretch of speech per narrated step, each starting with its step's
    animation, and subtitles that say exactly what the voice says."""
    video = rendered[kind].result()
    result = video.result
    assert result.ok, f"{kind}: {result.status} {result.detail} {result.stderr_tail[-2000:]}"
    assert video.path is not None
    width, height, seconds, codecs = video_facts(video.path)
    assert (width, height) == (854, 480)
    assert sorted(codecs) == ["aac", "h264", "mov_text"], codecs
    # Long enough to follow every step by ear, short enough to watch.
    assert 8 <= seconds <= 180, seconds
    assert result.has_audio and result.voice_engine == "espeak-ng"

    speech = measure_speech(video.path)
    assert speech.spoken_s >= 0.5 * seconds, (speech.spoken_s, seconds)
    assert len(speech.segments) == len(video.narrations), (speech.segments, video.narrations)

    # The subtitles the checker read back from the file: the narration, cue for cue (a long
    # sentence may be cut into two cues that follow each other without a pause).
    groups: list[list[SubtitleCue]] = []
    for cue in result.subtitles:
        if groups and cue.start_s - groups[-1][-1].end_s < 0.3:
            groups[-1].append(cue)
        else:
            groups.append([cue])
    assert [said(" ".join(c.text for c in group)) for group in groups] == [said(t) for t in video.narrations]
    # Each narration is heard when its step starts: the cue starts with the step's first animation.
    for (start, _end), group in zip(speech.segments, groups, strict=True):
        assert abs(start - group[0].start_s) <= 0.3, (start, group[0].start_s, group[0].text)


@pytest.mark.parametrize("kind", sorted(RENDERS))
def test_each_kind_passes_the_layout_gate(kind: str, rendered: dict[str, Future[Rendered]]) -> None:
    """Issue 16: the built-in solver's own videos are clean: no text cut off, on other text or
    under a line, none too small to read on a phone, no long still frame (errors and warnings)."""
    result = rendered[kind].result().result
    assert result.ok, f"{kind}: {result.status} {result.detail}"
    layout = result.layout
    assert layout is not None and layout.checked, layout
    assert layout.samples > 0
    found = [f"{issue.severity} {issue.kind} at {issue.time_s:.1f} s: {issue.detail}" for issue in layout.issues]
    assert (layout.errors, layout.warnings) == (0, 0), found

def test_a_silent_render_keeps_its_pacing_and_subtitles(tmp_path: Path) -> None:
    """Voice off: no audio track at all, the same subtitles, and time to read each caption."""
    problem = ONE_PER_KIND["linear_equation"]
    solution = solve(problem)
    worked, language = work(problem)
    settings: Settings = make_sandbox_settings(tmp_path, warm_pool_size=0)
    sandbox = open_sandbox(settings)
    try:
        result = sandbox.render(solution.code, solution.scene_name, quality="low",
                                voice=VoiceRequest(False, language))
    finally:
        sandbox.close()
    try:
        assert result.ok, result.stderr_tail[-2000:]
        assert result.video_path is not None
        _, _, seconds, codecs = video_facts(result.video_path)
        assert sorted(codecs) == ["h264", "mov_text"]
        assert not result.has_audio and result.voice_engine == "none"
        assert [said(c.text) for c in result.subtitles] == [said(t) for t in narration_texts(worked, language)]
        assert seconds >= 8
    finally:
        result.discard_video()
