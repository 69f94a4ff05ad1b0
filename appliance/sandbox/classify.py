"""Turning what the engine and the runner said about a finished container into an outcome.

The runner's own report is a hint (the scene's code shares its process and can lie);
the engine's facts (OOM kill, exit status, process count, our own timeout) win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.models import JSONDict
from appliance.sandbox.result import RenderStatus

# 128 + signal number, as the container's init reports a child killed by a signal.
EXIT_SIGKILL = 137
EXIT_SIGXFSZ = 153  # the fsize ulimit: a file grew past the cap

EXIT_BAD_REQUEST = 2
EXIT_NO_VIDEO = 3

_PROCESS_LIMIT = re.compile(
    r"Resource temporarily unavailable|BlockingIOError|can't start new thread|"
    r"fork: retry|Cannot allocate memory.*fork|EAGAIN",
)
_MEMORY = re.compile(r"\bMemoryError\b|std::bad_alloc|Cannot allocate memory|out of memory", re.I)
_OUTPUT = re.compile(r"No space left on device|File too large|Disk quota exceeded|ENOSPC|EFBIG")


@dataclass(frozen=True)
class ContainerFacts:
    """Everything known about one container once it has stopped or been stopped."""

    timed_out: bool
    exit_code: int | None
    oom_killed: bool
    stderr: str
    runner_error: JSONDict | None  # the runner's "error" message, if it sent one
    pids_at_timeout: int | None = None
    pids_limit: int | None = None


def classify_failure(facts: ContainerFacts) -> tuple[RenderStatus, str]:
    """The outcome of a container that did not hand over a video, and a few words why."""
    if facts.oom_killed:
        return RenderStatus.MEMORY, "the container was killed for exceeding its memory limit"
    if facts.timed_out:
        if facts.pids_at_timeout is not None and facts.pids_limit and facts.pids_at_timeout >= facts.pids_limit - 2:
            return RenderStatus.PROCESS_LIMIT, f"{facts.pids_at_timeout} processes at the time limit"
        if _PROCESS_LIMIT.search(facts.stderr[-20000:]):
            return RenderStatus.PROCESS_LIMIT, "the process limit was hit, then the time limit"
        return RenderStatus.TIMEOUT, "the wall-clock limit was reached"
    if facts.exit_code == EXIT_SIGXFSZ:
        return RenderStatus.OUTPUT_LIMIT, "a file grew past the size limit"
    reported = (facts.runner_error or {}).get("kind")
    if reported == "no_video" or (reported is None and facts.exit_code == EXIT_NO_VIDEO):
        return RenderStatus.NO_VIDEO, str((facts.runner_error or {}).get("message") or "no video was written")
    if reported == "memory":
        return RenderStatus.MEMORY, "the scene ran out of memory"
    if reported == "process_limit":
        return RenderStatus.PROCESS_LIMIT, "the scene could not start another process or thread"
    if reported == "output_limit":
        return RenderStatus.OUTPUT_LIMIT, "the scene filled its work area or hit the file size limit"
    if reported in ("scene_error", "bad_request"):
        return RenderStatus.SCENE_ERROR, _error_words(facts.runner_error or {})
    # No report: the runner died without speaking (killed, crashed, or silenced by the scene).
    tail = facts.stderr[-20000:]
    if _PROCESS_LIMIT.search(tail):
        return RenderStatus.PROCESS_LIMIT, "the process limit was hit"
    if _MEMORY.search(tail):
        return RenderStatus.MEMORY, "the scene ran out of memory"
    if _OUTPUT.search(tail):
        return RenderStatus.OUTPUT_LIMIT, "the scene filled its work area or hit the file size limit"
    if facts.exit_code == EXIT_SIGKILL:
        return RenderStatus.SCENE_ERROR, "the render process was killed"
    if facts.exit_code is not None and facts.exit_code > 128:
        return RenderStatus.SCENE_ERROR, f"the render process died from signal {facts.exit_code - 128}"
    return RenderStatus.SCENE_ERROR, f"the render process exited with status {facts.exit_code}"


def _error_words(runner_error: JSONDict) -> str:
    exception = str(runner_error.get("exception") or "error")
    message = str(runner_error.get("message") or "").strip().splitlines()
    return f"{exception}: {message[0][:200]}" if message else exception
