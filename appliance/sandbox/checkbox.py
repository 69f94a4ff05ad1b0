"""The check box: a render's video and layout recording checked in a throwaway container.

Both files came out of the sandbox, where the scene's code ran, and checking them means
parsing them (FFmpeg demuxes and decodes the video; the layout recording is JSON against a
schema). A process on the appliance's host would run as the appliance's user, in the Docker
socket's group, next to the appliance's environment (its API keys). So the parsers run in a
fresh container of the sandbox image instead, created with the render containers' own options
(``DockerSandbox._container_options``: no network, read-only root, no capabilities left to the
checker, the render's memory, CPU, process and time limits, an environment of five plain
variables, nothing of the host mounted) and in which no scene code ever ran:

1. create it, attach to its stdin and stdout, start it: it waits for a line on stdin (a tmpfs
   volume holds what the engine copies into it only while the container runs);
2. put the checker's code (``CHECKER_FILES``, standard library only, copied from this
   installation, so it is always the appliance's own version), the video and the recording into
   its /work volume, and say "go": ``verdict.main`` checks both and prints its verdict;
3. read its output until it exits (killed at ``CHECK_TIMEOUT_S``), at most ``VERDICT_MAX_BYTES``
   of it, and accept the verdict only if it fits the verdict's schema (``verdict.parse_verdict``);
4. remove it.

It costs one container per render: 0.3 s (load average 4) to 1.3 s (load average 11) more than
the child processes on the host did (bench/check_bench.py; the figures are in the README).
"""

from __future__ import annotations

import contextlib
import logging
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import docker
from docker.models.containers import Container

from appliance.errors import SandboxError
from appliance.sandbox.attach import AttachedStream
from appliance.sandbox.connection import attach_socket, translate_docker_errors, wait_for_exit
from appliance.sandbox.verdict import VERDICT_MAX_BYTES, Verdict, parse_verdict
from appliance.sandbox.video import PROBE_TIMEOUT_S

log = logging.getLogger(__name__)

# The modules the check container imports, relative to the directory holding ``appliance``;
# their packages get empty __init__ files there (the real ones may import more).
CHECKER_FILES = (
    "appliance/errors.py",
    "appliance/contracts.py",
    "appliance/repair/layout_fixes.py",
    "appliance/sandbox/result.py",
    "appliance/sandbox/video.py",
    "appliance/sandbox/layout.py",
    "appliance/sandbox/verdict.py",
)
CHECKER_PACKAGES = ("appliance", "appliance/repair", "appliance/sandbox")
SOURCE_ROOT = Path(__file__).resolve().parents[2]
BOX_DIR = "/work"
CODE_DIR = "checker"  # under BOX_DIR
VIDEO_FILE = "video.mp4"
RECORDING_FILE = "layout.json"
PYTHON = "/opt/manim/bin/python"
# Run with -I (no environment variables, no user site, no script directory on the path); only the
# copied checker is added, once the host has put it there and says so.
BOOT_LINES = (
    "import sys",
    "sys.stdin.readline()",
    f"sys.path.insert(0, '{BOX_DIR}/{CODE_DIR}')",
    "from appliance.sandbox.verdict import main",
    "sys.exit(main(sys.argv[1:]))",
)
BOOT = "\n".join(BOOT_LINES)
# The checks ran in parallel child processes with PROBE_TIMEOUT_S each; here one after the
# other, plus the container's start.
CHECK_TIMEOUT_S = 2 * PROBE_TIMEOUT_S + 30.0


def check_command(quality: str, with_recording: bool) -> list[str]:
    recording = f"{BOX_DIR}/{RECORDING_FILE}" if with_recording else "-"
    return [PYTHON, "-I", "-c", BOOT, f"{BOX_DIR}/{VIDEO_FILE}", quality, recording]


def box_contents(video: Path, recording: Path | None, uid: int) -> IO[bytes]:
    """The tar put into the box's /work: the checker's code (read-only), the two files (read-only),
    all owned by ``uid``. Spooled to disk past a few MB: a video may be large."""
    archive: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)

    def member(name: str, size: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.type = size, mode, uid, uid, kind
        info.mtime = int(time.time())
        return info

    with tarfile.open(fileobj=archive, mode="w") as tar:
        for package in CHECKER_PACKAGES:
            tar.addfile(member(f"{CODE_DIR}/{package}", 0, 0o500, tarfile.DIRTYPE))
            tar.addfile(member(f"{CODE_DIR}/{package}/__init__.py", 0, 0o400))
        for name in CHECKER_FILES:
            source = SOURCE_ROOT / name
            with source.open("rb") as handle:
                tar.addfile(member(f"{CODE_DIR}/{name}", source.stat().st_size, 0o400), handle)
        files = [(video, VIDEO_FILE)] + ([(recording, RECORDING_FILE)] if recording is not None else [])
        for path, name in files:
            with path.open("rb") as handle:
                tar.addfile(member(name, path.stat().st_size, 0o400), handle)
    archive.seek(0)
    return archive


def run_check_box(client: docker.DockerClient, create: Callable[[list[str]], Container],
                  discard: Callable[[Container], None], video: Path, recording: Path | None, quality: str,
                  uid: int) -> Verdict:
    """Check ``video`` (and ``recording``) in a fresh check container; ``create(command)`` makes
    that container with the sandbox's options, ``discard`` removes it. A refused video is a
    ``Verdict`` with the reason; ``SandboxError`` when the engine could not run the check."""
    container = create(check_command(quality, recording is not None))
    stream = None
    try:
        with translate_docker_errors("cannot start the check container"):
            attached, owner = attach_socket(client.api, container.id)
            stream = AttachedStream(attached, VERDICT_MAX_BYTES, keepalive=owner)
            container.start()
        with translate_docker_errors("cannot hand the video to the check container"), \
                box_contents(video, recording, uid) as contents:
            client.api.put_archive(container.id, BOX_DIR, contents)
        with contextlib.suppress(OSError):  # a checker already gone: its exit status says why
            stream.send(b"go\n")
        stream.drain(time.monotonic() + CHECK_TIMEOUT_S)
        if not stream.eof:
            stream.close()  # hang up first: an engine blocked on output nobody reads cannot kill
            with contextlib.suppress(SandboxError), translate_docker_errors("cannot kill the check container"):
                container.kill()
            return Verdict(f"refused: checking the video took over {CHECK_TIMEOUT_S:.0f} s", None)
        status = wait_for_exit(container, 30, "the check container")
        if status != 0:
            log.warning("the check container failed (exit status %s): %s", status, stream.stderr.text()[-600:])
            return Verdict(f"refused: the file broke the video checker (exit status {status})", None)
        if stream.stdout.total > VERDICT_MAX_BYTES:
            return Verdict("refused: the video checker's verdict is over its size cap", None)
        lines = stream.stdout.text().strip().splitlines()
        try:
            return parse_verdict(lines[-1].encode() if lines else b"", quality, expect_layout=recording is not None)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            log.warning("the check container's verdict was refused: %s", exc)
            return Verdict("refused: the video checker's verdict was malformed", None)
    finally:
        if stream is not None:
            stream.close()
        discard(container)
