"""What a render produced, classified for people and for the model that wrote the scene.

Render failures are data, not exceptions: a scene that loops forever or raises is an
ordinary outcome the pipeline feeds back to the model. Exceptions are kept for faults
of the infrastructure (``SandboxUnavailable``), which ``DockerSandbox`` still reports as
``RenderStatus.UNAVAILABLE`` results so callers handle one type.
"""

from __future__ import annotations

import re

from appliance.contracts import RENDER_MESSAGES, RenderResult, RenderStatus

__all__ = ["RENDER_MESSAGES", "RenderResult", "RenderStatus", "summarize_stderr"]


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
