"""The seams between the core's parts, typed: one leaf module every part agrees on.

    SceneSource.generate(problem, language, feedback) -> GeneratedScene     (generation/)
    Renderer.render(code, scene_name, quality, prelude, voice) -> RenderResult  (sandbox/)
    VideoStorage.put(key, video_path) -> StoredVideo                        (storage/)

``RepairFeedback`` is the one description of "what went wrong last time" that the
pipeline hands back to a ``SceneSource``. Render failures are data (``RenderResult``
with a ``RenderStatus``), not exceptions; exceptions (``appliance.errors``) are for
infrastructure faults.

This module imports only the standard library, ``models`` and ``errors``, so every
part can import it without pulling in another part. Fakes that implement these
contracts with the real result types live beside them in ``appliance.fakes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from appliance.errors import CodeRejected

# -- generation ---------------------------------------------------------------------------------

FeedbackKind = Literal["validation", "render", "answer", "layout"]
AnswerCheck = Literal["verified", "corrected", "unverifiable"]
ANSWER_CHECKS: tuple[AnswerCheck, ...] = ("verified", "corrected", "unverifiable")


@dataclass(frozen=True)
class RepairFeedback:
    """What went wrong with the previous attempt, for the model to repair.

    ``kind`` is ``validation`` (``error`` is the refusal reason), ``render`` (the render's
    stderr tail), ``answer`` (the correct answer, from SymPy) or ``layout`` (the layout gate's
    errors: which objects, when, where; ``LayoutReport.feedback``).
    """

    previous_code: str
    error: str
    kind: FeedbackKind = "validation"


@dataclass(frozen=True)
class GeneratedScene:
    """A validated, repaired scene ready for the sandbox, and where it came from.

    ``answer_check``: ``verified`` (the stated answer agrees with SymPy, or is SymPy's
    own), ``corrected`` (the first answer was wrong; the scene now states SymPy's),
    ``unverifiable`` (SymPy has no reference answer for this problem). ``notice``: a sentence
    for the person about how the scene was made, shown with the job's status (e.g. the hourly
    budget of model calls was spent, so the built-in solver wrote it).
    """

    code: str
    scene_name: str
    provider: str
    model: str
    answer_text: str | None
    answer_check: AnswerCheck
    repairs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    # What the scene says aloud, when it is known before the render (for a speech endpoint).
    narration: list[str] = field(default_factory=list)
    notice: str | None = None


class GeneratedCodeRejected(CodeRejected):
    """A model's scene failed validation; ``code`` is what it wrote, for the repair prompt."""

    def __init__(self, reason: str, code: str, provider: str, model: str, errors: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.code = code
        self.provider = provider
        self.model = model
        self.errors = list(errors)


class CallBudget(Protocol):
    """A budget of model calls shared by every job (``appliance.admission.ModelBudget``)."""

    def try_spend(self) -> bool:
        """Take one call from the budget; False when it is spent (then make no call)."""
        ...


class SceneSource(Protocol):
    """Problem -> checked Manim scene (the model chain with the built-in solver as its floor).

    Raises ``GeneratedCodeRejected`` when a model's code fails validation (the pipeline
    calls again with ``RepairFeedback``), ``UnsupportedProblem`` or ``AllProvidersFailed``
    (with a sentence for the person) when nothing can help.
    """

    def generate(
        self, problem_text: str, language: str | None, feedback: RepairFeedback | None = None
    ) -> GeneratedScene: ...

    def describe(self) -> str:
        """One start-up log line: which models are tried, in order."""
        ...

    def providers(self) -> list[str]:
        """The configured models, in order (``builtin`` excluded), for readiness."""
        ...


# -- rendering ----------------------------------------------------------------------------------

VOICE_LANGUAGES: tuple[str, ...] = ("en", "es", "ru", "de", "fr")
VOICE_ENGINES: tuple[str, ...] = ("espeak-ng", "clips", "none")


@dataclass(frozen=True)
class SpeechClip:
    """One narration spoken by the operator's speech endpoint: checked WAV bytes (PCM)."""

    text: str
    wav: bytes
    duration_s: float

    @property
    def file_name(self) -> str:
        return f"{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:16]}.wav"


class SpeechSynthesizer(Protocol):
    """A better voice than the sandbox's own (an OpenAI-compatible speech endpoint through
    litellm). Never raises: an empty tuple means "let the sandbox's espeak-ng speak"."""

    def synthesize(self, texts: Sequence[str], language: str) -> tuple[SpeechClip, ...]: ...


@dataclass(frozen=True)
class VoiceRequest:
    """How a render narrates: the voice on or off, its language, and clips the appliance
    synthesized itself (the sandbox speaks any text without a clip with espeak-ng). With the
    voice off a narrated scene keeps its pacing and subtitles and has no sound."""

    enabled: bool = True
    language: str = "en"
    clips: tuple[SpeechClip, ...] = ()

    def for_sandbox(self) -> dict[str, object]:
        language = self.language if self.language in VOICE_LANGUAGES else "en"
        request: dict[str, object] = {"enabled": self.enabled, "language": language}
        if self.enabled and self.clips:
            request["clips"] = {clip.text: clip.file_name for clip in self.clips}
        return request


@dataclass(frozen=True)
class SubtitleCue:
    """One subtitle, read back from the video's own subtitle track by the bounded checker."""

    start_s: float
    end_s: float
    text: str

    def to_dict(self) -> dict[str, float | str]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "text": self.text}


# -- the layout gate (appliance/sandbox/layout.py): what the render's recording showed ----------

LayoutKind = Literal["text_outside_frame", "text_overlap", "text_hidden", "text_too_small", "still_frame",
                     "too_short"]
LAYOUT_KINDS: tuple[LayoutKind, ...] = ("text_outside_frame", "text_overlap", "text_hidden", "text_too_small",
                                        "still_frame", "too_short")
LayoutSeverity = Literal["error", "warning"]
LAYOUT_SEVERITIES: tuple[LayoutSeverity, ...] = ("error", "warning")


@dataclass(frozen=True)
class LayoutBox:
    """An axis-aligned box in scene units (the frame is ``config.frame_width`` by
    ``config.frame_height``, centred on the origin, y up)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def to_list(self) -> list[float]:
        return [round(self.x0, 3), round(self.y0, 3), round(self.x1, 3), round(self.y1, 3)]

    def describe(self) -> str:
        return f"x {self.x0:.2f}..{self.x1:.2f}, y {self.y0:.2f}..{self.y1:.2f}"


@dataclass(frozen=True)
class LayoutIssue:
    """One defect the layout gate found: what, how bad, from when and for how long, which
    objects (a short text each: ``MathTex "x^2"``), their boxes, and a sentence saying why."""

    kind: LayoutKind
    severity: LayoutSeverity
    time_s: float
    objects: tuple[str, ...] = ()
    boxes: tuple[LayoutBox, ...] = ()
    detail: str = ""
    duration_s: float = 0.0  # how long it stays on screen (0: one moment, e.g. the last frame)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "severity": self.severity, "time_s": round(self.time_s, 2),
                "duration_s": round(self.duration_s, 2), "objects": list(self.objects),
                "boxes": [box.to_list() for box in self.boxes], "detail": self.detail}


@dataclass(frozen=True)
class LayoutReport:
    """What the layout gate found in one render. ``checked`` is False when there was nothing to
    check (no recording, or one the checker refused), with ``note`` saying why; the counts are
    of every issue found, ``issues`` the first ``MAX_LAYOUT_ISSUES`` (errors first, each in time
    order). ``fixes``:
    how often each mechanical layout fix fired in the sandbox (a claim from inside, recorded
    only)."""

    checked: bool
    errors: int = 0
    warnings: int = 0
    issues: tuple[LayoutIssue, ...] = ()
    samples: int = 0
    frame_width: float = 0.0
    frame_height: float = 0.0
    note: str = ""
    fixes: tuple[tuple[str, int], ...] = ()
    recording_s: float = 0.0  # the recorder's own time inside the sandbox (a claim; for the bench)

    @property
    def clean(self) -> bool:
        return self.checked and self.errors == 0 and self.warnings == 0

    def feedback(self, max_errors: int = 8, max_warnings: int = 2) -> str:
        """The errors (and a few warnings) as lines a model can act on: which objects, when,
        where (``RepairFeedback.error`` of kind ``layout``)."""
        half_width, half_height = self.frame_width / 2, self.frame_height / 2
        lines = [f"Layout errors in the rendered video (positions in scene units; the frame spans x "
                 f"{-half_width:.2f}..{half_width:.2f} and y {-half_height:.2f}..{half_height:.2f}):"]
        warnings = [issue for issue in self.issues if issue.severity == "warning"][:max_warnings]
        errors = [issue for issue in self.issues if issue.severity == "error"][:max_errors]
        for issue in errors + warnings:
            where = "; ".join(f"{name}: {box.describe()}" for name, box in zip(issue.objects, issue.boxes,
                                                                                 strict=False))
            prefix = "" if issue.severity == "error" else "(warning) "
            lines.append(f"- {prefix}at {issue.time_s:.1f} s: {issue.detail}" + (f" [{where}]" if where else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "errors": self.errors, "warnings": self.warnings,
                "issues": [issue.to_dict() for issue in self.issues], "samples": self.samples,
                "frame": [round(self.frame_width, 3), round(self.frame_height, 3)], "note": self.note,
                "fixes": dict(self.fixes), "recording_s": round(self.recording_s, 4)}


MAX_LAYOUT_ISSUES = 30


class RenderStatus(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    PROCESS_LIMIT = "process_limit"
    OUTPUT_LIMIT = "output_limit"
    NO_VIDEO = "no_video"
    SCENE_ERROR = "scene_error"
    UNAVAILABLE = "unavailable"


# Render outcomes a model can plausibly fix by rewriting its scene.
REPAIRABLE_RENDER_STATUSES = frozenset({
    RenderStatus.SCENE_ERROR, RenderStatus.NO_VIDEO, RenderStatus.TIMEOUT, RenderStatus.MEMORY,
    RenderStatus.PROCESS_LIMIT, RenderStatus.OUTPUT_LIMIT,
})

RENDER_MESSAGES: dict[RenderStatus, str] = {
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
    video_width: int | None = None  # as the bounded checker read them from the file
    video_height: int | None = None
    has_audio: bool = False  # the checked file has an audio track
    subtitles: tuple[SubtitleCue, ...] = ()  # from the checked file's subtitle track
    # What the runner says spoke ("espeak-ng", "clips", "none"): a claim from inside the
    # sandbox, checked against VOICE_ENGINES and only recorded.
    voice_engine: str | None = None
    # The layout gate's findings (None: not checked, e.g. a failed render or a fake renderer).
    layout: LayoutReport | None = None

    @property
    def ok(self) -> bool:
        return self.status is RenderStatus.OK and self.video_path is not None

    @property
    def message(self) -> str:
        return RENDER_MESSAGES[self.status]

    def discard_video(self) -> None:
        """Delete the video file this result owns, if any (a failed or abandoned render)."""
        if self.video_path is not None:
            self.video_path.unlink(missing_ok=True)

    def to_dict(self) -> dict[str, str | int | float | None]:
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
            "has_audio": self.has_audio,
            "subtitles": len(self.subtitles),
            "voice_engine": self.voice_engine,
            "layout_errors": None if self.layout is None or not self.layout.checked else self.layout.errors,
            "layout_warnings": None if self.layout is None or not self.layout.checked else self.layout.warnings,
        }


class Renderer(Protocol):
    """Scene code -> MP4. Thread-safe and blocking; never raises for a failed render
    (an unreachable engine is ``RenderStatus.UNAVAILABLE``)."""

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult: ...


class EngineSandbox(Renderer, Protocol):
    """What one Docker engine's sandbox offers beside rendering (``DockerSandbox``, or a fake
    standing in for the local engine in tests)."""

    def ping(self, timeout_s: float | None = None) -> None:
        """Raise ``SandboxUnavailable`` when the engine does not answer."""
        ...

    def check_image(self) -> None:
        """Raise ``SandboxImageMissing`` (with the command to run) when the image is absent."""
        ...

    def warm_up(self) -> None:
        """Start the warm pool now, so the first render is not a cold one."""
        ...

    def sweep_orphans(self) -> int:
        """Remove containers crashed appliances left; how many were removed."""
        ...

    def close(self) -> None: ...


# -- storage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredVideo:
    """Where a stored video can be fetched, and until when."""

    key: str
    url: str
    expires_at: str  # ISO 8601 UTC, e.g. 2026-01-15T10:00:00+00:00
    size_bytes: int


@runtime_checkable
class VideoStorage(Protocol):
    """One place videos go; ``appliance.storage.make_storage`` picks the backend."""

    name: str

    def put(self, key: str, video_path: Path) -> StoredVideo:
        """Store a copy of ``video_path`` (the caller still owns the file) as video/mp4 under
        ``key`` (``appliance.storage.base.new_key()``: opaque, it names no job)."""
        ...

    def url_for(self, key: str) -> tuple[str, str]:
        """A fresh URL for ``key`` and its expiry (ISO 8601 UTC)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the video; a key that is already gone is not an error."""
        ...

    def exists(self, key: str) -> bool: ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A readable local file with the video, valid inside the ``with`` block; NotFound if gone."""
        ...

    def keys(self) -> Iterator[str]:
        """Every video key this appliance stored (for the stray-file sweep)."""
        ...

    def check(self) -> None:
        """Raise StorageError saying what to fix if the store cannot be used."""
        ...
