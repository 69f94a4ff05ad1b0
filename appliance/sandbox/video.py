"""Getting the video out of a container, trusting nothing about it.

The Docker archive API reports what the path *is* (the engine lstat()s it inside the
container) before a byte of content is read, so a symlink, FIFO or device is refused
from that header alone and the host never opens or follows it. The tar stream is then
read member by member with a byte budget (never ``extractall``), written to a file the
host creates itself, and accepted only if PyAV finds an MP4 with a decodable video frame.

The archive is opened by ``connection.open_archive``: this module knows nothing of
Docker, and imports nothing of the appliance but ``result``, because the checker process
that runs it (``python -m appliance.sandbox.video``) starts once per render. (So the
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


def probe_mp4(path: Path) -> float | str:
    """The video's duration in seconds if ``path`` is a real MP4 with a decodable video
    frame; otherwise a short reason it is not.

    The file was made by untrusted code, and FFmpeg parses it: that happens in a child
    process with no secrets in its environment, capped memory and CPU time, and a
    deadline, so a file built to crash, hang or exhaust the demuxer costs one refused
    render, not the appliance.
    """
    environment = {key: os.environ[key] for key in _PROBE_ENVIRONMENT if key in os.environ}
    source_root = str(Path(__file__).resolve().parents[2])  # so a source checkout works uninstalled
    environment["PYTHONPATH"] = source_root
    try:
        done = subprocess.run(
            [sys.executable, "-s", "-m", "appliance.sandbox.video", str(path.resolve())],
            env=environment, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"refused: checking the video took over {PROBE_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"refused: the video checker could not start ({exc})"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return f"refused: the file broke the video checker (exit status {done.returncode})"
    try:
        answer = json.loads(lines[-1])
        return float(answer["duration"]) if "duration" in answer else str(answer["refused"])
    except (ValueError, KeyError, TypeError):
        return "refused: the video checker gave no answer"


def _probe_here(path: Path) -> float | str:
    """The video's duration in seconds if ``path`` is a real MP4 with a decodable video
    frame; otherwise a short reason it is not."""
    import av

    try:
        with av.open(str(path), mode="r") as container:
            if "mp4" not in container.format.name.split(","):
                return f"refused: the file is {container.format.name}, not MP4"
            if not container.streams.video:
                return "refused: the file has no video stream"
            stream = container.streams.video[0]
            for _frame in container.decode(stream):
                break
            else:
                return "refused: the video stream has no frames"
            if container.duration is not None:
                return float(container.duration) / 1_000_000  # av.time_base
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return 0.0
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        return f"refused: not a valid MP4 ({type(exc).__name__})"
    return "refused: the file could not be read as a video"  # not reached; for the type checker


def _probe_main(argv: list[str]) -> int:
    """The checker process: limit itself, probe one file, answer with one JSON line on stdout
    (its parent, ``probe_mp4``, reads it)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY_BYTES, PROBE_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (PROBE_CPU_S, PROBE_CPU_S))
    except (ImportError, ValueError, OSError):
        pass  # best effort: the parent's deadline still holds
    result = _probe_here(Path(argv[1]))
    answer = {"duration": result} if isinstance(result, float) else {"refused": result}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv))
