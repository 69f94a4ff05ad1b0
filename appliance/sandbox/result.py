"""What a render produced, classified for people and for the model that wrote the scene.

Render failures are data, not exceptions: a scene that loops forever or raises is an
ordinary outcome the pipeline feeds back to the model. Exceptions are kept for faults
of the infrastructure (``SandboxUnavailable``), which ``DockerSandbox`` still reports as
``RenderStatus.UNAVAILABLE`` results so callers handle one type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class RenderStatus(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    PROCESS_LIMIT = "process_limit"
    OUTPUT_LIMIT = "output_limit"
    NO_VIDEO = "no_video"
    SCENE_ERROR = "scene_error"
    UNAVAILABLE = "unavailable"


USER_MESSAGES: dict[RenderStatus, str] = {
    RenderStatus.OK: "The video was rendered.",
    RenderStatus.TIMEOUT: "The animation took too long to render and was stopped.",
    RenderStatus.MEMORY: "The animation needed more memory than the renderer allows.",
    RenderStatus.PROCESS_LIMIT: "The animation started more processes or threads than the renderer allows.",
    RenderStatus.OUTPUT_LIMIT: "The animation wrote more data than the renderer allows (the video or its "
                               "working files were too large).",
    RenderStatus.NO_VIDEO: "The animation finished without producing a video (it may not animate anything).",
    RenderStatus.SCENE_ERROR: "The animation code failed while rendering.",
    RenderStatus.UNAVAILABLE: "The renderer is unavailable right now; please try again later.",
}


@dataclass
class RenderResult:
    """The outcome of one render. ``video_path`` is a host file the caller owns and deletes."""

    status: RenderStatus
    exit_code: int | None = None
    stderr_tail: str = ""
    duration_s: float = 0.0
    video_path: Path | None = None
    video_size_bytes: int | None = None
    video_duration_s: float | None = None
    detail: str = ""  # why, in a few words, for logs (e.g. "output is a symbolic link")
    container_id: str | None = None  # the (already removed) container, for logs and tests

    @property
    def ok(self) -> bool:
        return self.status is RenderStatus.OK and self.video_path is not None

    @property
    def message(self) -> str:
        return USER_MESSAGES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "message": self.message,
            "detail": self.detail,
            "stderr_tail": self.stderr_tail,
            "duration_s": round(self.duration_s, 3),
            "video_path": str(self.video_path) if self.video_path else None,
            "video_size_bytes": self.video_size_bytes,
            "video_duration_s": None if self.video_duration_s is None else round(self.video_duration_s, 3),
            "container_id": self.container_id,
        }


# -- the stderr tail a model can act on ---------------------------------------------------------

MAX_TAIL_CHARS = 2000
_TRACEBACK_START = "Traceback (most recent call last):"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Frames of Manim's and Python's own code say little to a model; frames of its scene do.
_LIBRARY_FRAME = re.compile(r'^\s*File "(?!/work/scene\.py|<prelude>)[^"]*", line \d+')


def summarize_stderr(stderr: str, max_chars: int = MAX_TAIL_CHARS) -> str:
    """The last traceback (scene frames and the error) plus LaTeX error lines, short."""
    text = _ANSI.sub("", stderr).replace("\r", "\n")
    latex_lines = [line for line in text.splitlines() if line.startswith("LaTeX error: ")]
    start = text.rfind(_TRACEBACK_START)
    if start >= 0:
        lines = text[start:].splitlines()
        kept: list[str] = [lines[0]]
        skip_source_line = False
        for line in lines[1:]:
            if line.startswith("LaTeX error: "):
                continue
            if _LIBRARY_FRAME.match(line):
                skip_source_line = True
                continue
            if skip_source_line and line.startswith("    "):
                continue  # the source line under a library frame, or its ^^^ markers
            skip_source_line = False
            kept.append(line)
        body = "\n".join(kept).strip()
    else:
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("LaTeX error: ")]
        body = "\n".join(lines[-15:])
    if latex_lines:
        body = "\n".join([body, *latex_lines[:10]]).strip()  # last: truncation keeps the end
    if len(body) > max_chars:
        body = "…" + body[-(max_chars - 1):]
    return body
