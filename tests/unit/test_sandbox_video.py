"""What is accepted as the video: plain files within the cap, real MP4s only."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from appliance.sandbox import video
from appliance.sandbox.result import RenderStatus
from appliance.sandbox.video import VideoFacts, _ChunkReader, _copy_single_member, file_kind_problem, probe_mp4


def write_video(path: Path, container_format: str, frames: int = 10, codec: str = "libx264",
                size: tuple[int, int] = (64, 48), video_streams: int = 1) -> None:
    with av.open(str(path), mode="w", format=container_format) as container:
        streams = []
        for _ in range(video_streams):
            stream = container.add_stream(codec, rate=Fraction(10, 1))
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            streams.append(stream)
        for index in range(frames):
            image = np.full((size[1], size[0], 3), (index * 20) % 256, dtype=np.uint8)
            for stream in streams:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
        for stream in streams:
            for packet in stream.encode():
                container.mux(packet)


def tar_stream(member: tarfile.TarInfo, content: bytes = b"") -> Iterator[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(member, io.BytesIO(content) if member.isreg() else None)
    data = buffer.getvalue()
    return iter([data[i:i + 700] for i in range(0, len(data), 700)])


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        (0o644, None),
        (0o755, None),
        ((1 << 27) | 0o777, "a symbolic link"),
        ((1 << 25) | 0o644, "a FIFO"),
        ((1 << 26) | (1 << 21) | 0o666, "a character device"),
        ((1 << 26) | 0o660, "a device"),
        ((1 << 31) | 0o755, "a directory"),
        ((1 << 24) | 0o755, "a socket"),
    ],
)
def test_engine_stat_modes(mode: int, problem: str | None) -> None:
    found = file_kind_problem({"name": "video.mp4", "size": 10, "mode": mode, "linkTarget": ""})
    assert found == (None if problem is None else f"the output is {problem}")


def test_missing_stat_is_a_problem() -> None:
    assert file_kind_problem(None)


def test_a_regular_member_is_copied(tmp_path: Path) -> None:
    content = b"\x00\x00\x00\x18ftypmp42" + b"v" * 5000
    member = tarfile.TarInfo("video.mp4")
    member.size = len(content)
    destination = tmp_path / "out.mp4"
    assert _copy_single_member(_ChunkReader(tar_stream(member, content)), destination, 10_000) is None
    assert destination.read_bytes() == content
    assert destination.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.DIRTYPE])
def test_non_regular_members_are_refused_and_nothing_is_written(tmp_path: Path, kind: bytes) -> None:
    member = tarfile.TarInfo("video.mp4")
    member.type = kind
    member.linkname = "/etc/passwd"
    destination = tmp_path / "out.mp4"
    refusal = _copy_single_member(_ChunkReader(tar_stream(member)), destination, 10_000)
    assert refusal is not None and refusal.status is RenderStatus.NO_VIDEO
    assert not destination.exists()


def test_an_oversized_member_is_refused_before_writing(tmp_path: Path) -> None:
    member = tarfile.TarInfo("video.mp4")
    member.size = 20_000
    destination = tmp_path / "out.mp4"
    refusal = _copy_single_member(_ChunkReader(tar_stream(member, b"z" * 20_000)), destination, 10_000)
    assert refusal is not None and refusal.status is RenderStatus.OUTPUT_LIMIT
    assert not destination.exists()


def test_the_host_never_writes_through_an_existing_path(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    (tmp_path / "out.mp4").symlink_to(target)
    member = tarfile.TarInfo("video.mp4")
    member.size = 3
    with pytest.raises(FileExistsError):
        _copy_single_member(_ChunkReader(tar_stream(member, b"bad")), tmp_path / "out.mp4", 10_000)
    assert target.read_text() == "keep me"


def test_a_real_mp4_is_accepted_with_its_duration(tmp_path: Path) -> None:
    path = tmp_path / "real.mp4"
    write_video(path, "mp4", frames=10)
    facts = probe_mp4(path, "low")
    assert isinstance(facts, VideoFacts), facts
    assert facts.duration_s == pytest.approx(1.0, abs=0.15)
    assert (facts.width, facts.height, facts.has_audio, facts.subtitles) == (64, 48, False, ())


@pytest.mark.parametrize(
    ("options", "quality", "reason"),
    [
        ({"codec": "mpeg4"}, "high", "not H.264"),
        ({"size": (1280, 720)}, "low", "larger than low quality's 854x480"),
        ({"video_streams": 2}, "high", "2 video streams, not one"),
    ],
)
def test_anything_but_one_h264_stream_of_the_quality_asked_for_is_refused(
        tmp_path: Path, options: dict[str, object], quality: str, reason: str) -> None:
    path = tmp_path / "video.mp4"
    write_video(path, "mp4", frames=3, **options)  # type: ignore[arg-type]
    result = probe_mp4(path, quality)
    assert isinstance(result, str) and reason in result, result


def test_subtitles_are_read_back_from_the_file(tmp_path: Path) -> None:
    """The mov_text track a narrated render carries comes back as cues with their times."""
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg (a CI system package) makes the subtitled file"
    video_path = tmp_path / "plain.mp4"
    write_video(video_path, "mp4", frames=30)
    srt = tmp_path / "cues.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:01,000\nSolve the equation\n\n"
                   "2\n00:00:01,500 --> 00:00:02,500\nSubtract 3 from both sides.\n\n", encoding="utf-8")
    subtitled = tmp_path / "subtitled.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(video_path), "-i", str(srt), "-c:v", "copy",
                    "-c:s", "mov_text", str(subtitled)], check=True)
    facts = probe_mp4(subtitled, "low")
    assert isinstance(facts, VideoFacts), facts
    assert [(round(c.start_s, 1), round(c.end_s, 1), c.text) for c in facts.subtitles] == [
        (0.2, 1.0, "Solve the equation"), (1.5, 2.5, "Subtract 3 from both sides.")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a valid MP4"),
        (b"this is not a video\n" * 100, "not a valid MP4"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64, "refused"),
    ],
)
def test_fake_files_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    result = probe_mp4(path)
    assert isinstance(result, str) and reason in result


def test_another_container_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"  # the name says mp4; the content is Matroska
    write_video(path, "matroska")
    result = probe_mp4(path)
    assert isinstance(result, str) and "not MP4" in result


def _fake_checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """Stand in for the Python the checker runs with: a shell script doing ``script``."""
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\n" + script + "\n")
    fake.chmod(0o755)
    monkeypatch.setattr(video.sys, "executable", str(fake))


def test_the_checker_process_gets_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_secret")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    seen = tmp_path / "environment"
    answer = '{"duration": 2.5, "width": 854, "height": 480, "has_audio": true, "subtitles": []}'
    _fake_checker(tmp_path, monkeypatch, f"env > {seen}\necho '{answer}'")
    facts = probe_mp4(tmp_path / "any.mp4")
    assert isinstance(facts, VideoFacts) and facts.duration_s == 2.5 and facts.has_audio
    environment = seen.read_text()
    assert "secret" not in environment and "PYTHONPATH=" in environment


def test_a_file_that_crashes_the_checker_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checker(tmp_path, monkeypatch, "kill -SEGV $$")
    result = probe_mp4(tmp_path / "any.mp4")
    assert isinstance(result, str) and "broke the video checker" in result and "-11" in result


def test_a_file_that_hangs_the_checker_is_refused_at_the_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checker(tmp_path, monkeypatch, "exec sleep 30")
    monkeypatch.setattr(video, "PROBE_TIMEOUT_S", 0.5)
    result = probe_mp4(tmp_path / "any.mp4")
    assert isinstance(result, str) and "took over" in result


def test_the_checker_limits_its_own_memory(tmp_path: Path) -> None:
    import resource
    import subprocess
    import sys

    script = ("import resource, appliance.sandbox.video as v, sys; v._probe_main(['x', sys.argv[1]]); "
              "print(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CPU)[0])")
    path = tmp_path / "real.mp4"
    write_video(path, "mp4", frames=5)
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    verdict, limits = out.stdout.strip().splitlines()
    assert '"duration"' in verdict
    assert limits.split() == [str(video.PROBE_MEMORY_BYTES), str(video.PROBE_CPU_S)]
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != video.PROBE_MEMORY_BYTES  # only the child


def test_the_subtitle_track_template_is_in_the_tree() -> None:
    """runner.py copies the mov_text track's parameters from this file; a clean clone must
    have it (*.mp4 is ignored by git and Docker elsewhere)."""
    template = Path(__file__).resolve().parents[2] / "sandbox_image" / "voice" / "subtitle-track.mp4"
    with av.open(str(template)) as container:
        assert [stream.codec_context.name for stream in container.streams] == ["mov_text"]
