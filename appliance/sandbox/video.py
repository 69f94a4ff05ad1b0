"""Getting the video out of a container, trusting nothing about it.

The Docker archive API reports what the path *is* (the engine lstat()s it inside the
container) before a byte of content is read, so a symlink, FIFO or device is refused
from that header alone and the host never opens or follows it. The tar stream is then
read member by member with a byte budget (never ``extractall``), written to a file the
host creates itself, and accepted only if PyAV finds an MP4 with a decodable video frame.

The archive is opened by ``connection.open_archive``: this module knows nothing of
Docker, and imports nothing of the appliance but ``contracts`` and ``result``, because the
check container (``checkbox.py``, ``verdict.py``) gets a copy of it and runs ``_probe_here``
with the standard library and PyAV alone; ``probe_mp4`` runs the same check in a local child
process (``python -m appliance.sandbox.video``: tests, bench/check_bench.py's comparison). (So the
engine's JSON stat is a plain ``dict[str, Any]`` here, not ``appliance.models.JSONDict``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.contracts import SubtitleCue
from appliance.sandbox.result import RenderStatus

# Go's os.FileMode type bits, as the engine encodes them in X-Docker-Container-Path-Stat.
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_DEVICE = 1 << 26
_MODE_NAMED_PIPE = 1 << 25
_MODE_SOCKET = 1 << 24
_MODE_CHAR_DEVICE = 1 << 21
_MODE_IRREGULAR = 1 << 19
_FILE_KINDS = (
    (_MODE_DIR, "a directory"),
    (_MODE_SYMLINK, "a symbolic link"),
    (_MODE_NAMED_PIPE, "a FIFO"),
    (_MODE_SOCKET, "a socket"),
    (_MODE_CHAR_DEVICE, "a character device"),
    (_MODE_DEVICE, "a device"),
    (_MODE_IRREGULAR, "not a regular file"),
)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Refusal:
    """Why a container's output was not accepted as the video."""

    status: RenderStatus
    detail: str


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks (the archive response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            try:
                self._pending += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data


def file_kind_problem(stat: dict[str, Any] | None) -> str | None:
    """Why a path stat from the engine is not a plain file, or None if it is one."""
    if not stat:
        return "the engine reported nothing about the output file"
    mode = int(stat.get("mode", 0))
    for bit, kind in _FILE_KINDS:
        if mode & bit:
            return f"the output is {kind}"
    return None


NO_VIDEO_FILE = Refusal(RenderStatus.NO_VIDEO, "the scene left no video file")


def accept_video(stat: dict[str, Any] | None, chunks: Iterator[bytes], destination: Path,
                 max_bytes: int) -> Refusal | None:
    """Copy the single file of a container's tar archive (``chunks``) to ``destination`` if
    the engine's ``stat`` of it says it is a plain file within the cap.

    Returns a ``Refusal`` (and leaves no destination file) when it is not. The caller closes
    the archive's response whatever happened, so a refused body is never read.
    """
    problem = file_kind_problem(stat)
    if problem:
        return Refusal(RenderStatus.NO_VIDEO, f"refused: {problem}")
    assert stat is not None
    if int(stat.get("size", 0)) > max_bytes:
        return Refusal(RenderStatus.OUTPUT_LIMIT, f"the video is {int(stat['size'])} bytes, over the cap "
                                                  f"of {max_bytes}")
    if int(stat.get("size", 0)) == 0:
        return Refusal(RenderStatus.NO_VIDEO, "refused: the video file is empty")
    return _copy_single_member(_ChunkReader(chunks), destination, max_bytes)


def _copy_single_member(reader: _ChunkReader, destination: Path, max_bytes: int) -> Refusal | None:
    # The member header is authoritative: the file may have changed since the stat.
    with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
        member = archive.next()
        if member is None:
            return Refusal(RenderStatus.NO_VIDEO, "the engine returned an empty archive")
        if not member.isreg():
            return Refusal(RenderStatus.NO_VIDEO, "refused: the output is not a regular file")
        if member.size > max_bytes:
            return Refusal(RenderStatus.OUTPUT_LIMIT, f"the video is {member.size} bytes, over the cap of {max_bytes}")
        source = archive.extractfile(member)
        if source is None:
            return Refusal(RenderStatus.NO_VIDEO, "refused: the output is not a regular file")
        # O_EXCL|O_NOFOLLOW: the host writes only a file it has just created itself.
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        written = 0
        try:
            with os.fdopen(fd, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise _TooLarge
                    sink.write(chunk)
        except _TooLarge:
            destination.unlink(missing_ok=True)
            return Refusal(RenderStatus.OUTPUT_LIMIT, f"the video is over the cap of {max_bytes} bytes")
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
    return None


class _TooLarge(Exception):
    pass


PROBE_TIMEOUT_S = 30.0
PROBE_MEMORY_BYTES = 1024**3
PROBE_CPU_S = 20
# What the checker process gets of the appliance's environment: no API keys, no tokens.
_PROBE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL")
MAX_VIDEO_DURATION_S = 900.0  # far beyond any render time limit: a longer stream is a lie
MAX_SUBTITLE_CUES = 400
MAX_CUE_CHARS = 300
# The largest frame each quality renders (Manim's own sizes); anything bigger was not made by
# the quality asked for.
QUALITY_FRAME_LIMITS = {"low": (854, 480), "medium": (1280, 720), "high": (1920, 1080)}


@dataclass(frozen=True)
class VideoFacts:
    """What the bounded checker found in an accepted video."""

    duration_s: float
    width: int
    height: int
    has_audio: bool
    subtitles: tuple[SubtitleCue, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"duration": self.duration_s, "width": self.width, "height": self.height,
                "has_audio": self.has_audio, "subtitles": [cue.to_dict() for cue in self.subtitles]}

    @classmethod
    def from_json(cls, answer: dict[str, Any]) -> VideoFacts:
        """The checker's answer, validated again on this side: types, counts, lengths."""
        cues: list[SubtitleCue] = []
        raw_cues = answer.get("subtitles") or []
        if not isinstance(raw_cues, list) or len(raw_cues) > MAX_SUBTITLE_CUES:
            raise ValueError("bad subtitles")
        for raw in raw_cues:
            start, end, text = float(raw["start_s"]), float(raw["end_s"]), str(raw["text"])
            if not (0 <= start <= end <= MAX_VIDEO_DURATION_S) or len(text) > MAX_CUE_CHARS:
                raise ValueError("bad subtitle cue")
            cues.append(SubtitleCue(start, end, text))
        return cls(float(answer["duration"]), int(answer["width"]), int(answer["height"]),
                   bool(answer["has_audio"]), tuple(cues))


def probe_mp4(path: Path, quality: str = "high") -> VideoFacts | str:
    """What an accepted video is (``VideoFacts``), or a short reason it is refused.

    The file was made by untrusted code, and FFmpeg parses it: that happens in a child
    process with no secrets in its environment, capped memory and CPU time, and a
    deadline, so a file built to crash, hang or exhaust the demuxer costs one refused
    render, not the appliance. (Renders use the check box instead, ``checkbox.py``: this
    child still runs as the appliance's user, which can read the appliance's
    /proc/PID/environ and reach the Docker socket.) Only H.264 video in MP4 is accepted, one video stream, no
    larger than ``quality`` renders, with at most one AAC audio and one mov_text subtitle
    stream; the subtitles are read back from the file itself.
    """
    answer = run_checker("appliance.sandbox.video", [str(path.resolve()), quality])
    if isinstance(answer, str):
        return answer
    try:
        if "refused" in answer:
            return str(answer["refused"])[:300]
        return VideoFacts.from_json(answer)
    except (ValueError, KeyError, TypeError):
        return "refused: the video checker gave no answer"


def run_checker(module: str, arguments: list[str], what: str = "video") -> dict[str, Any] | str:
    """Run ``python -m module arguments`` as a checker process (no secrets in its environment,
    ``limit_checker_process`` inside, a deadline outside) and return the JSON object of the last
    line it printed, or a short reason there is none."""
    environment = {key: os.environ[key] for key in _PROBE_ENVIRONMENT if key in os.environ}
    source_root = str(Path(__file__).resolve().parents[2])  # so a source checkout works uninstalled
    environment["PYTHONPATH"] = source_root
    try:
        done = subprocess.run(
            [sys.executable, "-s", "-m", module, *arguments],
            env=environment, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"refused: checking the {what} took over {PROBE_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"refused: the {what} checker could not start ({exc})"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return f"refused: the file broke the {what} checker (exit status {done.returncode})"
    try:
        answer = json.loads(lines[-1][:1_000_000])
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return f"refused: the {what} checker gave no answer"
    return answer


def limit_checker_process() -> None:
    """Inside a checker process: cap its memory and CPU time (best effort: the parent's
    deadline still holds)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY_BYTES, PROBE_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (PROBE_CPU_S, PROBE_CPU_S))
    except (ImportError, ValueError, OSError):
        pass


def _stream_problem(container: Any, quality: str) -> str | None:
    """Why the file's streams are not what a render makes, or None."""
    videos = container.streams.video
    audios = container.streams.audio
    subtitles = container.streams.subtitles
    if len(videos) != 1:
        return f"refused: the file has {len(videos)} video streams, not one"
    if len(audios) > 1 or len(subtitles) > 1:
        return "refused: the file has more than one audio or subtitle stream"
    if len(container.streams) != len(videos) + len(audios) + len(subtitles):
        return "refused: the file has streams that are not video, audio or subtitles"
    video = videos[0]
    if video.codec_context.name != "h264":
        return f"refused: the video is {video.codec_context.name}, not H.264"
    if audios and audios[0].codec_context.name != "aac":
        return f"refused: the audio is {audios[0].codec_context.name}, not AAC"
    if subtitles and subtitles[0].codec_context.name != "mov_text":
        return f"refused: the subtitles are {subtitles[0].codec_context.name}, not mov_text"
    max_width, max_height = QUALITY_FRAME_LIMITS.get(quality, QUALITY_FRAME_LIMITS["high"])
    width, height = video.codec_context.width, video.codec_context.height
    if not (0 < width <= max_width and 0 < height <= max_height):
        return f"refused: the frame is {width}x{height}, larger than {quality} quality's {max_width}x{max_height}"
    return None


def _subtitle_cues(path: Path) -> tuple[SubtitleCue, ...]:
    """The mov_text samples (a 16-bit length, then UTF-8 text) with their times."""
    import av

    cues: list[SubtitleCue] = []
    with av.open(str(path), mode="r") as container:
        if not container.streams.subtitles:
            return ()
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None or packet.size < 2:
                continue
            data = bytes(packet)
            length = int.from_bytes(data[:2], "big")
            text = " ".join(data[2:2 + length].decode("utf-8", errors="replace").split())[:MAX_CUE_CHARS]
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            if text and 0 <= start <= end:
                cues.append(SubtitleCue(start, end, text))
            if len(cues) >= MAX_SUBTITLE_CUES:
                break
    return tuple(sorted(cues, key=lambda cue: cue.start_s))


def _probe_here(path: Path, quality: str) -> VideoFacts | str:
    """See ``probe_mp4``; this runs in the checker process."""
    import av

    try:
        with av.open(str(path), mode="r") as container:
            if "mp4" not in container.format.name.split(","):
                return f"refused: the file is {container.format.name}, not MP4"
            problem = _stream_problem(container, quality)
            if problem:
                return problem
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            has_audio = bool(container.streams.audio)
            for _frame in container.decode(stream):
                break
            else:
                return "refused: the video stream has no frames"
            duration = 0.0
            if container.duration is not None:
                duration = float(container.duration) / 1_000_000  # av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            if duration > MAX_VIDEO_DURATION_S:
                return f"refused: the video says it lasts {duration:.0f} s, over {MAX_VIDEO_DURATION_S:.0f} s"
        return VideoFacts(duration, width, height, has_audio, _subtitle_cues(path))
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        return f"refused: not a valid MP4 ({type(exc).__name__})"


def _probe_main(argv: list[str]) -> int:
    """The checker process: limit itself, probe one file, answer with one JSON line on stdout
    (its parent, ``probe_mp4``, reads it)."""
    limit_checker_process()
    result = _probe_here(Path(argv[1]), argv[2] if len(argv) > 2 else "high")
    answer = result.to_json() if isinstance(result, VideoFacts) else {"refused": result}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv))
