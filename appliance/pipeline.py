"""Drive one job through the seed's states: generate, validate, render, upload.

    QUEUED -> AI_GENERATING -> CODE_VALIDATING -> RENDERING -> UPLOADING -> READY
                   ^                 |                |
                   +---- error ------+----- error ----+   (bounded by max_attempts)

A validation failure or a failed render goes back to AI_GENERATING with the error,
so the model can repair its code; after ``max_attempts`` the job FAILS with a message
a person understands. Runs in a worker thread (every call here may block).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from appliance.config import Settings
from appliance.errors import (
    AllProvidersFailed,
    CodeRejected,
    GenerationError,
    NotFound,
    SandboxError,
    StorageError,
    UnsupportedProblem,
)
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus
from appliance.store import Store, code_cache_key

log = logging.getLogger(__name__)
S = ProcessingStatus


class Interrupted(Exception):
    """The worker is shutting down and gave this job back to the queue: write nothing more."""


class Cancelled(Exception):
    """The person cancelled the job; it fails at the step it reached."""


@dataclass(frozen=True)
class Feedback:
    """What went wrong with the previous attempt, for the model to repair."""

    previous_code: str
    error: str
    kind: str  # "validation" | "render"


@dataclass(frozen=True)
class _Setback:
    """Generation did not produce code: retry with feedback, or give up (final)."""

    final: bool
    reason: str
    message: str
    error: str


class GeneratorLike(Protocol):
    def generate(self, problem_text: str, language: str | None, feedback: Any = None) -> Any: ...


class SandboxLike(Protocol):
    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "") -> Any: ...


class StorageLike(Protocol):
    def put(self, job_id: str, video_path: Path) -> Any: ...


# Render outcomes a model can plausibly fix by rewriting its scene.
REPAIRABLE_RENDER_STATUSES = {"scene_error", "no_video", "timeout", "memory", "process_limit", "output_limit"}

STATUS_MESSAGES = {
    S.AI_GENERATING: "Writing the scene",
    S.CODE_VALIDATING: "Checking the scene code",
    S.RENDERING: "Rendering the video",
    S.UPLOADING: "Uploading the video",
    S.READY: "Your video is ready",
}


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        generator: GeneratorLike,
        sandbox: SandboxLike,
        storage: StorageLike,
        metrics: Metrics,
        publish: Callable[[ProcessingJob], None],
        validate: Callable[[str], Any] | None = None,
        prelude: str = "",
        make_feedback: Callable[[str, str, str], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.generator = generator
        self.sandbox = sandbox
        self.storage = storage
        self.metrics = metrics
        self.publish = publish
        self.validate = validate
        self.prelude = prelude
        self.make_feedback = make_feedback or (lambda code, error, kind: Feedback(code, error, kind))

    # -- state changes -----------------------------------------------------------------------

    def _move(
        self,
        job_id: str,
        target: ProcessingStatus,
        message: str | None = None,
        change: Callable[[ProcessingJob], None] | None = None,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> ProcessingJob:
        if interrupted():
            raise Interrupted(job_id)
        if target is not S.FAILED and self.store.get_job(job_id).cancel_requested:
            raise Cancelled(job_id)
        job = self.store.transition_job(job_id, target, message or STATUS_MESSAGES.get(target), change)
        self.metrics.inc("appliance_status_changes_total", status=target.value)
        self.publish(job)
        return job

    def _fail(self, job_id: str, reason: str, message: str, error: str | None = None) -> ProcessingJob:
        def record(job: ProcessingJob) -> None:
            job.failure_reason = reason
            if error:
                job.last_error = error[-2000:]

        job = self._move(job_id, S.FAILED, message, record)
        self.metrics.inc("appliance_job_failures_total", reason=reason)
        self.metrics.inc("appliance_jobs_finished_total", status="failed")
        return job

    # -- the job -----------------------------------------------------------------------------

    def run(self, job_id: str, interrupted: Callable[[], bool] = lambda: False) -> ProcessingJob:
        """Work on one job until it is READY or FAILED (or the worker gives it back)."""
        try:
            return self._run(job_id, interrupted)
        except Cancelled:
            return self._fail(job_id, "cancelled", "Cancelled")

    def _run(self, job_id: str, interrupted: Callable[[], bool]) -> ProcessingJob:
        job = self.store.get_job(job_id)
        if job.status is not S.QUEUED:
            log.warning("job %s popped in status %s; skipping", job_id, job.status.value)
            return job
        if job.cancel_requested:
            return self._fail(job_id, "cancelled", "Cancelled")

        feedback: Any = None
        last_failure = ("generation_failed", "The video could not be made.", "")
        cache_key = code_cache_key(job.problem_text, job.problem_language, job.quality)
        cached = self.store.get_cached_code(cache_key) if self.settings.code_cache else None
        if self.settings.code_cache:
            self.metrics.inc("appliance_code_cache_hits_total" if cached else "appliance_code_cache_misses_total")

        while job.attempts < self.settings.max_attempts:
            attempt = job.attempts + 1
            label = f" (attempt {attempt} of {self.settings.max_attempts})" if attempt > 1 else ""
            message = STATUS_MESSAGES[S.AI_GENERATING] + label

            def count_attempt(j: ProcessingJob, n: int = attempt, text: str = message) -> None:
                j.attempts = n
                j.status_message = text

            if job.status is S.QUEUED:
                job = self._move(job_id, S.AI_GENERATING, message, count_attempt, interrupted)
            else:
                # Already back in AI_GENERATING through a repair arc.
                job = self.store.update_job(job_id, count_attempt)
                self.publish(job)
            self.metrics.inc("appliance_generation_attempts_total")

            if cached is not None and feedback is None:
                code, scene_name = cached["code"], cached["scene_name"]
                def use_cache(j: ProcessingJob, cache_hit: dict[str, Any] = cached) -> None:
                    j.manim_code = cache_hit["code"]
                    j.scene_name = cache_hit["scene_name"]
                    j.ai_provider_used = cache_hit.get("provider")
                    j.answer_text = cache_hit.get("answer_text")
                    j.answer_check = cache_hit.get("answer_check")
                    j.code_cache_hit = True

                # Cached code was validated when it was made: straight to rendering.
                job = self._move(job_id, S.RENDERING, "Rendering the video (reusing a scene made earlier)",
                                 use_cache, interrupted)
            else:
                outcome = self._generate(job, feedback, interrupted)
                if isinstance(outcome, _Setback):
                    if outcome.final:
                        return self._fail(job_id, outcome.reason, outcome.message, outcome.error)
                    last_failure = (outcome.reason, outcome.message, outcome.error)
                    error = outcome.error
                    job = self.store.get_job(job_id)
                    feedback = self.make_feedback(job.manim_code or "", error, "validation")
                    continue
                job, code, scene_name = outcome

            result = self._render(job, code, scene_name, interrupted)
            if result.ok:
                return self._upload(job, result, cache_key, interrupted)
            cached = None
            error = (result.stderr_tail or result.message)[-2000:]
            last_failure = (f"render_{result.status}", result.message, error)
            job = self.store.get_job(job_id)
            repairable = result.status in REPAIRABLE_RENDER_STATUSES and job.ai_provider_used != "builtin"
            # The built-in solver's scenes do not improve by asking again.
            if not repairable or job.attempts >= self.settings.max_attempts:
                break
            job = self._move(job_id, S.AI_GENERATING, f"{result.message} Asking for a fix",
                             lambda j, text=error: setattr(j, "last_error", text), interrupted)  # type: ignore[misc]
            feedback = self.make_feedback(code, error, "render")

        reason, message, error = last_failure
        attempts = self.store.get_job(job_id).attempts
        return self._fail(job_id, reason, f"{message} (gave up after {attempts} attempts)", error)

    def _generate(
        self, job: ProcessingJob, feedback: Any, interrupted: Callable[[], bool]
    ) -> _Setback | tuple[ProcessingJob, str, str]:
        job_id = job.job_id
        try:
            scene = self.generator.generate(job.problem_text, job.problem_language, feedback)
        except CodeRejected as exc:
            reason = exc.reason
            previous = getattr(exc, "code", None)
            if previous:
                self.store.update_job(job_id, lambda j: setattr(j, "manim_code", previous))
            self._move(job_id, S.CODE_VALIDATING, interrupted=interrupted)
            self._move(job_id, S.AI_GENERATING, f"The scene was refused: {reason}. Asking for a fix",
                       lambda j: setattr(j, "last_error", reason), interrupted)
            return _Setback(False, "code_rejected", "The generated scene could not be made safe to run.", reason)
        except UnsupportedProblem as exc:
            return _Setback(True, "unsupported_problem", str(exc), str(exc))
        except AllProvidersFailed as exc:
            summary = str(exc)
            self.store.update_job(job_id, lambda j: setattr(j, "ai_error", summary[:2000]))
            return _Setback(True, "generation_failed", summary, summary)
        except GenerationError as exc:
            return _Setback(True, "generation_failed", f"The scene could not be written: {exc}", str(exc))

        provider = str(scene.provider)
        self.metrics.inc("appliance_provider_used_total", provider=provider)

        def record_scene(j: ProcessingJob) -> None:
            j.manim_code = scene.code
            j.scene_name = scene.scene_name
            j.ai_provider_used = provider
            j.answer_text = getattr(scene, "answer_text", None)
            j.answer_check = getattr(scene, "answer_check", None)
            j.repairs = list(getattr(scene, "repairs", []) or [])
            errors = getattr(scene, "errors", None)
            if errors:
                j.ai_error = "; ".join(str(e) for e in errors)[:2000]

        job = self._move(job_id, S.CODE_VALIDATING, None, record_scene, interrupted)
        code, scene_name = scene.code, scene.scene_name
        if self.validate is not None:
            # A second, independent pass over exactly what will run (idempotent on good code).
            try:
                checked = self.validate(code)
            except CodeRejected as exc:
                reason = exc.reason
                self._move(job_id, S.AI_GENERATING, f"The scene was refused: {reason}. Asking for a fix",
                           lambda j: setattr(j, "last_error", reason), interrupted)
                return _Setback(False, "code_rejected", "The generated scene could not be made safe to run.", reason)
            code, scene_name = checked.code, checked.scene_name
        def record_checked(j: ProcessingJob) -> None:
            j.manim_code = code
            j.scene_name = scene_name

        job = self._move(job_id, S.RENDERING, None, record_checked, interrupted)
        return job, code, scene_name

    def _render(self, job: ProcessingJob, code: str, scene_name: str, interrupted: Callable[[], bool]) -> Any:
        started = time.monotonic()
        result = self.sandbox.render(code, scene_name, job.quality, prelude=self.prelude)
        self.metrics.inc("appliance_render_seconds_total", time.monotonic() - started)
        self.metrics.inc("appliance_renders_total", outcome=str(result.status))
        if interrupted():
            self._discard(result)
            raise Interrupted(job.job_id)
        if result.status == "unavailable":
            self._discard(result)
            raise SandboxError(result.message)
        if not result.ok:
            self._discard(result)
        return result

    def _upload(
        self, job: ProcessingJob, result: Any, cache_key: str, interrupted: Callable[[], bool]
    ) -> ProcessingJob:
        job_id = job.job_id
        video_path = Path(result.video_path)
        try:
            def record_render(j: ProcessingJob) -> None:
                j.render_duration_seconds = round(result.duration_s, 3)
                j.video_size_bytes = result.video_size_bytes

            job = self._move(job_id, S.UPLOADING, None, record_render, interrupted)
            try:
                stored = self.storage.put(job_id, video_path)
            except StorageError as exc:
                return self._fail(job_id, "storage_error", "The video could not be stored.", str(exc))

            def record(j: ProcessingJob) -> None:
                j.video_key = stored.key
                j.video_url = stored.url
                j.video_expires_at = stored.expires_at
                j.video_size_bytes = stored.size_bytes

            job = self._move(job_id, S.READY, None, record, interrupted)
        finally:
            with contextlib.suppress(OSError):
                video_path.unlink()
        self.metrics.inc("appliance_jobs_finished_total", status="ready")
        if self.settings.code_cache and not job.code_cache_hit and job.manim_code and job.scene_name:
            self.store.put_cached_code(
                cache_key,
                {"code": job.manim_code, "scene_name": job.scene_name, "provider": job.ai_provider_used,
                 "answer_text": job.answer_text, "answer_check": job.answer_check},
                ttl=self.settings.code_cache_ttl_s,
            )
        return job

    @staticmethod
    def _discard(result: Any) -> None:
        path = getattr(result, "video_path", None)
        if path:
            with contextlib.suppress(OSError):
                Path(path).unlink()


def safe_run(pipeline: Pipeline, job_id: str, interrupted: Callable[[], bool]) -> ProcessingJob | None:
    """Run a job, turning unexpected faults into a FAILED job rather than a dead worker."""
    try:
        return pipeline.run(job_id, interrupted)
    except Interrupted:
        return None
    except NotFound:
        log.warning("job %s vanished while being worked on", job_id)
        return None
    except SandboxError as exc:
        log.error("sandbox unavailable for job %s: %s", job_id, exc)
        with contextlib.suppress(Exception):
            return pipeline._fail(job_id, "sandbox_unavailable",
                                  "The renderer is unavailable right now; please try again later.", str(exc))
        return None
    except Exception as exc:
        log.exception("job %s failed unexpectedly", job_id)
        with contextlib.suppress(Exception):
            return pipeline._fail(job_id, "internal_error", "Something went wrong on our side.", repr(exc))
        return None
