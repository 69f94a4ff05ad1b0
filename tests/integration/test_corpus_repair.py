"""Real model output through validation, model-free repair and the real Docker sandbox.

A seeded sample of the shared corpus (``../shared/corpus/llm-scenes.jsonl``, scenes
language models wrote, many for older Manim) is rendered at low quality twice:
unchanged, and after ``validate_and_repair`` with ``COMPAT_PRELUDE``. The repaired
run must give a real MP4 for at least 11 of 12. ``bench/corpus_bench.py --sandbox``
measures the whole corpus the same way.
"""

from __future__ import annotations

import random
import textwrap

import av
import pytest

from appliance.errors import CodeRejected
from appliance.sandbox.docker import DockerSandbox
from appliance.sandbox.result import RenderResult
from appliance.validation import COMPAT_PRELUDE, validate_and_repair
from tests.corpus import corpus_rows, unrepaired_scene_name
from tests.integration.sandbox_fixtures import docker_sandbox, sandbox_settings  # noqa: F401

pytestmark = pytest.mark.docker

SAMPLE_SIZE = 12
SAMPLE_SEED = 4
REQUIRED_OK = 11


def load_sample() -> list[tuple[int, str]]:
    lines = corpus_rows()
    indices = sorted(random.Random(SAMPLE_SEED).sample(range(len(lines)), SAMPLE_SIZE))
    return [(index, lines[index]["code"]) for index in indices]


def video_problem(result: RenderResult) -> str:
    """Empty when the render left an MP4 a player can decode, else what is wrong."""
    if not result.ok or result.video_path is None:
        return f"{result.status}: {result.stderr_tail.strip().splitlines()[-1:] or result.detail}"
    try:
        with av.open(str(result.video_path)) as container:
            if not container.streams.video:
                return "no video stream"
            if next(iter(container.decode(video=0)), None) is None:
                return "no decodable frame"
    except (av.FFmpegError, OSError) as exc:
        return f"not a valid MP4: {exc}"
    return ""


def render(sandbox: DockerSandbox, code: str, scene_name: str, prelude: str = "") -> str:
    result = sandbox.render(code, scene_name, quality="low", prelude=prelude)
    try:
        return video_problem(result)
    finally:
        if result.video_path is not None:
            result.video_path.unlink(missing_ok=True)


def test_repaired_corpus_sample_renders_in_the_sandbox(docker_sandbox: DockerSandbox) -> None:  # noqa: F811
    sample = load_sample()
    before: dict[int, str] = {}
    after: dict[int, str] = {}
    for index, code in sample:
        before[index] = render(docker_sandbox, code, unrepaired_scene_name(code))
        try:
            scene = validate_and_repair(code)
        except CodeRejected as exc:
            after[index] = f"refused: {exc.reason}"
            continue
        after[index] = render(docker_sandbox, scene.code, scene.scene_name, COMPAT_PRELUDE)

    before_ok = sum(not problem for problem in before.values())
    after_ok = sum(not problem for problem in after.values())
    print(f"\ncorpus sample of {SAMPLE_SIZE} (seed {SAMPLE_SEED}), Docker sandbox, low quality:")
    print(f"  unchanged:         {before_ok}/{SAMPLE_SIZE} valid MP4 ({100 * before_ok / SAMPLE_SIZE:.0f}%)")
    print(f"  validated+repaired: {after_ok}/{SAMPLE_SIZE} valid MP4 ({100 * after_ok / SAMPLE_SIZE:.0f}%)")
    for index in sorted(after):
        print(f"  #{index:3d} before: {before[index] or 'ok'} | after: {after[index] or 'ok'}")
    failures = {index: problem for index, problem in after.items() if problem}
    assert after_ok >= REQUIRED_OK, f"repaired scenes that still fail: {failures}"


PRELUDE_ONLY_SCENE = textwrap.dedent(
    """\
    from manim import *

    class SolutionScene(Scene):
        def construct(self):
            corners = [np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, TAU, 6)[:-1]]
            shape = Polygon(*corners, color=BLUE)
            marker = Dot().move_to(corners[0])
            self.play(Create(shape), FadeIn(marker))
            for pause in [1, 0]:
                self.wait(pause)
    """
)


def test_prelude_pads_computed_points_and_skips_zero_waits(docker_sandbox: DockerSandbox) -> None:  # noqa: F811
    scene = validate_and_repair(PRELUDE_ONLY_SCENE)
    assert scene.repairs == []  # nothing here is visible to the static pass
    without_prelude = render(docker_sandbox, scene.code, scene.scene_name)
    assert without_prelude.startswith("scene_error")
    assert render(docker_sandbox, scene.code, scene.scene_name, COMPAT_PRELUDE) == ""


def test_scenes_using_manim_physics_render(docker_sandbox: DockerSandbox) -> None:  # noqa: F811
    """The image carries the manim-physics plugin: models' physics scenes render instead of
    being refused (three corpus scenes: rigid bodies, a pendulum, electric fields)."""
    physics = [row["code"] for row in corpus_rows() if "manim_physics" in row["code"]]
    assert len(physics) >= 3
    problems = {}
    for code in physics[:3]:
        scene = validate_and_repair(code)
        problems[scene.scene_name] = render(docker_sandbox, scene.code, scene.scene_name, COMPAT_PRELUDE)
    assert problems == {name: "" for name in problems}
