"""RenderResult and the stderr tail fed back to a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.sandbox.result import MAX_TAIL_CHARS, RENDER_MESSAGES, RenderResult, RenderStatus, summarize_stderr

MANIM_TRACEBACK = """\
[11/24/26 08:44:12] INFO     Animation 0 : Partial movie file written
Traceback (most recent call last):
  File "/opt/manim-appliance/runner.py", line 160, in render
    scene.render()
  File "/opt/manim/lib/python3.11/site-packages/manim/scene/scene.py", line 237, in render
    self.construct()
  File "/work/scene.py", line 9, in construct
    self.play(Create(squar))
                     ^^^^^
NameError: name 'squar' is not defined. Did you mean: 'square'?
"""


def test_every_status_has_a_user_message_and_round_trips_to_json() -> None:
    for status in RenderStatus:
        result = RenderResult(status, exit_code=1, stderr_tail="x", duration_s=1.23456)
        assert result.message == RENDER_MESSAGES[status]
        assert result.message.endswith(".")
        data = json.loads(json.dumps(result.to_dict()))
        assert data["status"] == status.value
        assert data["duration_s"] == 1.235
        assert result.ok is False


def test_ok_needs_a_video() -> None:
    assert RenderResult(RenderStatus.OK, video_path=Path("/tmp/v.mp4")).ok
    assert not RenderResult(RenderStatus.OK).ok
    assert RenderStatus.OK == "ok"  # the pipeline compares with plain strings


def test_tail_keeps_scene_frames_and_the_error_but_not_library_frames() -> None:
    tail = summarize_stderr(MANIM_TRACEBACK)
    assert tail.startswith("Traceback (most recent call last):")
    assert 'File "/work/scene.py", line 9, in construct' in tail
    assert "self.play(Create(squar))" in tail
    assert tail.endswith("NameError: name 'squar' is not defined. Did you mean: 'square'?")
    assert "site-packages" not in tail and "runner.py" not in tail
    assert "scene.render()" not in tail  # the source line under a dropped frame goes too
    assert "Partial movie file" not in tail


def test_only_the_last_traceback_counts() -> None:
    first = "Traceback (most recent call last):\n  File \"/work/scene.py\", line 1\nValueError: first\n"
    tail = summarize_stderr(first + MANIM_TRACEBACK)
    assert "first" not in tail and "NameError" in tail


def test_latex_errors_come_last_so_truncation_keeps_them() -> None:
    stderr = MANIM_TRACEBACK + "x" * 5000 + "\nLaTeX error: ! Undefined control sequence.\nLaTeX error: l.8 \\foo\n"
    tail = summarize_stderr(stderr)
    assert len(tail) <= MAX_TAIL_CHARS
    assert tail.endswith("LaTeX error: ! Undefined control sequence.\nLaTeX error: l.8 \\foo")


def test_without_a_traceback_the_last_lines_are_kept() -> None:
    stderr = "\n".join(f"line {n}" for n in range(100)) + "\n\x1b[31mKilled\x1b[0m\n"
    tail = summarize_stderr(stderr)
    assert tail.splitlines()[-1] == "Killed"  # ANSI colour codes stripped
    assert "line 99" in tail and "line 10\n" not in tail


@pytest.mark.parametrize("limit", [50, 600])
def test_tail_respects_its_limit(limit: int) -> None:
    assert len(summarize_stderr("y" * 10000, limit)) <= limit
