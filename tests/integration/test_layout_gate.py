"""The layout gate on real renders: small scenes built to have each defect are caught, scenes
built to be clean raise no alarm, and the prelude's mechanical fixes correct what they can."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from appliance.contracts import LayoutReport, RenderResult, VoiceRequest
from appliance.repair.prelude import PRELUDE_WITHOUT_LAYOUT_FIXES
from appliance.validation import COMPAT_PRELUDE
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HEAD = "from manim import *\n\n\nclass Check(Scene):\n    def construct(self):\n"
SCENES: dict[str, str] = {
    "off_right": HEAD + (
        "        words = Text('This sentence runs off the right edge').to_edge(RIGHT).shift(3 * RIGHT)\n"
        "        self.play(Write(words))\n        self.wait(2)\n"),
    "wide_formula": HEAD + (
        "        formula = MathTex(r'x^2 + 2x + 1 = ' + ' + '.join(f'{k} x^{{{k}}}' for k in range(3, 14)))\n"
        "        self.play(Write(formula))\n        self.wait(2)\n"),
    "two_labels": HEAD + (
        "        dot = Dot(ORIGIN)\n        a, b = MathTex('A').move_to(dot), MathTex('B').move_to(dot)\n"
        "        self.play(FadeIn(dot), Write(a), Write(b))\n        self.wait(2)\n"),
    "tick_label": HEAD + (
        "        axes = Axes(x_range=[0, 5, 1], y_range=[0, 5, 1], x_length=8, y_length=5).add_coordinates()\n"
        "        label = MathTex('(1, 0)').move_to(axes.x_axis.numbers[0])\n"
        "        self.play(Create(axes), Write(label))\n        self.wait(2)\n"),
    "tiny_text": HEAD + (
        "        note = Text('tiny footnote text').scale_to_fit_height(10 / 60)  # 10 px at 480p\n"
        "        self.play(FadeIn(note))\n        self.wait(2)\n"),
    "still_frame": HEAD + (
        "        self.play(Write(MathTex('x = 4')))\n        self.wait(12)\n"),
    "covered": HEAD + (
        "        label = Text('Covered')\n        self.play(Write(label))\n"
        "        self.play(FadeIn(Square(2).set_fill(BLUE, opacity=1)))\n        self.wait(2)\n"),
    "zoomed_out_of_frame": (
        "from manim import *\n\n\nclass Check(MovingCameraScene):\n    def construct(self):\n"
        "        corner = Text('Corner').to_corner(UR)\n        self.play(Write(corner), Create(Circle()))\n"
        "        self.play(self.camera.frame.animate.scale(0.5))\n        self.wait(2)\n"),
    "clean_title_and_formula": HEAD + (
        "        title = Title('Solving a quadratic equation')\n"
        "        formula = MathTex(r'x^2 - 4x + 3 = 0')\n"
        "        roots = MathTex(r'x = 1 \\quad \\text{or} \\quad x = 3').next_to(formula, DOWN, buff=0.6)\n"
        "        self.play(Write(title))\n        self.play(Write(formula))\n        self.wait()\n"
        "        self.play(Write(roots))\n        self.wait(2)\n"),
    "clean_axes_with_labels": HEAD + (
        "        axes = Axes(x_range=[-1, 4, 1], y_range=[-1, 9, 2], x_length=7, y_length=5).add_coordinates()\n"
        "        labels = axes.get_axis_labels(x_label='x', y_label='y')\n"
        "        graph = axes.plot(lambda x: x ** 2, x_range=[-1, 3], color=YELLOW)\n"
        "        graph_label = axes.get_graph_label(graph, 'y = x^2', x_val=2.5, direction=RIGHT)\n"
        "        dot = Dot(axes.c2p(2, 4))\n        dot_label = MathTex('(2, 4)').next_to(dot, LEFT)\n"
        "        self.play(Create(axes), Write(labels))\n        self.play(Create(graph), Write(graph_label))\n"
        "        self.play(FadeIn(dot), Write(dot_label))\n        self.wait(2)\n"),
    # The scene runs in the runner's process: it can forge the recording. The video still ships;
    # its layout is reported unchecked, saying why.
    "forged_recording": HEAD + (
        "        import sys\n        recorder = sys.modules['layout_recorder']\n"
        "        self.play(Write(MathTex('x = 4')))\n        self.wait(3)\n"
        "        recorder.RECORDER.samples.append({'t': 1, 'phase': 'play', 'items': [[999999, 0, 0, 1, 1, 0.3]]})\n"),
    "huge_recording": HEAD + (
        "        import sys\n        recorder = sys.modules['layout_recorder']\n"
        "        self.play(Write(MathTex('x = 4')))\n        self.wait(3)\n"
        "        recorder.RECORDER.objects.extend([{'kind': 'text', 'class': 'X' * 40}] * 60000)\n"),
    "symlinked_recording": HEAD + (
        "        import os, sys\n        recorder = sys.modules['layout_recorder']\n"
        "        recorder.write = lambda path, fixes=None: os.symlink('/etc/passwd', path)\n"
        "        self.play(Write(MathTex('x = 4')))\n        self.wait(3)\n"),
}
# Rendered with the whole prelude: its mechanical fixes at work.
FIXED = {"wide_formula_fixed": "wide_formula", "tick_label_fixed": "tick_label"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RenderResult]]:
    """Every scene rendered once, two at a time (the machine's two CPUs), without narration."""
    settings = make_sandbox_settings(tmp_path_factory.mktemp("layout-gate"), warm_pool_size=0, render_timeout_s=120)
    sandbox = open_sandbox(settings)
    jobs = [(name, code, PRELUDE_WITHOUT_LAYOUT_FIXES) for name, code in SCENES.items()]
    jobs += [(name, SCENES[source], COMPAT_PRELUDE) for name, source in FIXED.items()]

    def render(job: tuple[str, str, str]) -> RenderResult:
        _name, code, prelude = job
        result = sandbox.render(code, "Check", quality="low", prelude=prelude, voice=VoiceRequest(enabled=False))
        result.discard_video()
        return result

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            yield dict(zip([job[0] for job in jobs], pool.map(render, jobs), strict=True))
    finally:
        sandbox.close()


def layout_of(reports: dict[str, RenderResult], name: str) -> LayoutReport:
    result = reports[name]
    assert result.ok, f"{name}: {result.status}: {result.stderr_tail}"
    assert result.layout is not None and result.layout.checked, f"{name}: {result.layout}"
    return result.layout


def found(layout: LayoutReport) -> set[tuple[str, str]]:
    return {(issue.kind, issue.severity) for issue in layout.issues}


def test_text_off_the_right_edge_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "off_right")
    (issue,) = [issue for issue in layout.issues if issue.kind == "text_outside_frame"]
    assert issue.severity == "error" and "right edge" in issue.detail and "left edge" not in issue.detail
    assert issue.objects == ('Text "This sentence runs off the right edge"',)
    assert issue.boxes[0].x1 > 7.12 > issue.boxes[0].x0


def test_a_formula_wider_than_the_frame_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "wide_formula")
    (issue,) = [issue for issue in layout.issues if issue.kind == "text_outside_frame"]
    assert issue.severity == "error" and "left edge" in issue.detail and "right edge" in issue.detail
    assert issue.objects[0].startswith('MathTex "x^2 + 2x + 1')


def test_two_labels_at_one_point_are_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "two_labels")
    assert found(layout) == {("text_overlap", "error")}
    assert layout.issues[0].objects == ('MathTex "A"', 'MathTex "B"')


def test_a_label_on_a_tick_label_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "tick_label")
    assert found(layout) == {("text_overlap", "error")}
    assert layout.issues[0].objects == ('tick label "1"', 'MathTex "(1, 0)"')


def test_text_10_px_tall_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "tiny_text")
    assert found(layout) == {("text_too_small", "error")}
    assert layout.issues[0].objects == ('Text "tiny footnote text"',)


def test_a_12_second_still_frame_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "still_frame")
    assert found(layout) == {("still_frame", "warning")}
    assert layout.issues[0].duration_s == pytest.approx(12.0, abs=0.2)


def test_a_text_under_a_filled_shape_is_found(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "covered")
    assert found(layout) == {("text_hidden", "error")}
    assert layout.issues[0].objects == ('Text "Covered"', "Square")


def test_the_visible_frame_of_a_moving_camera_is_the_one_checked(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "zoomed_out_of_frame")
    (issue,) = layout.issues
    assert (issue.kind, issue.severity) == ("text_outside_frame", "warning")  # zoomed past it: never seen
    assert issue.objects == ('Text "Corner"',)


@pytest.mark.parametrize("name", ["clean_title_and_formula", "clean_axes_with_labels"])
def test_clean_scenes_raise_no_alarm(reports: dict[str, RenderResult], name: str) -> None:
    layout = layout_of(reports, name)
    assert layout.issues == () and layout.clean, layout.issues
    assert layout.samples >= 4


def test_the_prelude_scales_a_formula_wider_than_the_frame_to_fit(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "wide_formula_fixed")
    assert layout.issues == ()
    assert dict(layout.fixes)["fit_wide_text"] >= 1


def test_the_prelude_lifts_a_label_off_the_tick_labels(reports: dict[str, RenderResult]) -> None:
    layout = layout_of(reports, "tick_label_fixed")
    assert layout.issues == ()
    assert dict(layout.fixes)["lift_off_tick_labels"] == 1


def test_sandbox_run_json_includes_the_layout_report(tmp_path: Path) -> None:
    scene = tmp_path / "labels.py"
    scene.write_text(SCENES["two_labels"])
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DOCKER_HOST", "PYTHONPATH")}
    done = subprocess.run(
        [sys.executable, "-m", "frontends.cli", "sandbox", "run", str(scene), "--quality", "low", "--json",
         "-o", str(tmp_path / "labels.mp4")],
        env={**keep, "APPLIANCE_DATA_DIR": str(tmp_path / "data")}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["status"] == "ok" and (report["layout_errors"], report["layout_warnings"]) == (1, 0)
    layout = report["layout"]
    assert layout["checked"] is True and layout["frame"] == [14.222, 8.0]
    (issue,) = layout["issues"]
    assert issue["kind"] == "text_overlap" and issue["objects"] == ['MathTex "A"', 'MathTex "B"']
    assert len(issue["boxes"]) == 2 and all(len(box) == 4 for box in issue["boxes"])


@pytest.mark.parametrize(("name", "why"), [("forged_recording", "refused"), ("huge_recording", "over the cap"),
                                         ("symlinked_recording", "symbolic link")])
def test_a_forged_recording_leaves_the_video_unchecked(reports: dict[str, RenderResult], name: str,
                                                       why: str) -> None:
    result = reports[name]
    assert result.ok and result.layout is not None
    assert not result.layout.checked and result.layout.issues == () and why in result.layout.note
