"""The check box without Docker: what goes into the check container runs with the standard
library alone, and its verdict is accepted only when it fits the schema exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from appliance.sandbox.checkbox import BOOT_LINES, BOX_DIR, CODE_DIR, box_contents
from appliance.sandbox.layout import unchecked
from appliance.sandbox.verdict import VERDICT_MAX_BYTES, Verdict, check_files, parse_verdict, verdict_to_json
from appliance.sandbox.video import VideoFacts
from tests.unit.test_sandbox_video import write_video


def test_the_checker_copied_into_the_box_imports_nothing_but_the_standard_library(tmp_path: Path) -> None:
    video = tmp_path / "in.mp4"
    write_video(video, "mp4")
    with box_contents(video, None, 20001) as contents, tarfile.open(fileobj=contents) as tar:
        members = {member.name: member for member in tar.getmembers()}
        tar.extractall(tmp_path / "box", filter="data")
    assert all(member.uid == 20001 and not member.mode & 0o222 for member in members.values())
    assert "video.mp4" in members and f"{CODE_DIR}/appliance/sandbox/verdict.py" in members
    # The box's own boot line, with only the copied files on the path and no site-packages.
    probe = "\n".join((BOOT_LINES[0], BOOT_LINES[2], "import appliance.sandbox.verdict, json",
                        "found = {name.split('.')[0] for name in sys.modules} - set(sys.stdlib_module_names)",
                        "print(json.dumps(sorted(found - {'__main__'})))")).replace(BOX_DIR, str(tmp_path / "box"))
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["appliance"]


def test_the_checks_in_the_box_refuse_a_second_video_stream(tmp_path: Path) -> None:
    two = tmp_path / "two.mp4"
    write_video(two, "mp4", video_streams=2)
    verdict = check_files(two, "low", None)
    assert verdict.video == "refused: the file has 2 video streams, not one" and verdict.layout is None


def good_verdict() -> dict[str, Any]:
    facts = VideoFacts(4.0, 854, 480, True, ())
    return verdict_to_json(Verdict(facts, unchecked("the scene left no layout recording")))


def test_a_verdict_in_its_schema_is_accepted() -> None:
    verdict = parse_verdict(json.dumps(good_verdict()).encode(), "low", expect_layout=True)
    assert isinstance(verdict.video, VideoFacts) and verdict.video.width == 854
    assert verdict.layout is not None and not verdict.layout.checked
    refused = parse_verdict(b'{"video": {"refused": "refused: not MP4"}, "layout": null}', "low", True)
    assert refused.video == "refused: not MP4"


@pytest.mark.parametrize("damage", [
    lambda d: d.update(extra=1),
    lambda d: d["video"].update(width=1920, height=1080),  # bigger than low quality renders
    lambda d: d["video"].update(width=True),
    lambda d: d["video"].update(duration=float("nan")),
    lambda d: d["video"].update(duration=1e9),
    lambda d: d["video"].update(has_audio="yes"),
    lambda d: d["video"].update(admin=True),
    lambda d: d["video"].update(subtitles=[{"start_s": 0, "end_s": 1, "text": "x" * 1000}]),
    lambda d: d.update(layout=None),  # a recording was handed in: a report must come back
    lambda d: d["layout"].update(issues=[{"kind": "rm -rf", "severity": "error"}]),
    lambda d: d.update(video={"refused": "all fine, trust me"}),
    lambda d: d.update(video={"refused": "refused: x"}),  # a refusal with a layout report
    lambda d: d.update(video=[]),
])
def test_a_verdict_outside_its_schema_is_refused(damage: Any) -> None:
    data = good_verdict()
    damage(data)
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_verdict(json.dumps(data).encode(), "low", expect_layout=True)


def test_an_oversized_verdict_is_refused_unread() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_verdict(b" " * (VERDICT_MAX_BYTES + 1), "low", expect_layout=False)
