"""Drive one job through the seed's states: generate, validate, render, upload.

    QUEUED -> AI_GENERATING -> CODE_VALIDATING -> RENDERING -> UPLOADING -> READY
                   ^                 |                |
                   +---- error ------+----- error ----+   (bounded by max_attempts)

``run`` loops over attempts; one attempt (``attempt``) gives one outcome value:

    Finished(job)            the job is READY or FAILED: done
    Repair(feedback, why)    the scene was refused or its render failed in a way a model may
                             fix: the next attempt gets ``feedback`` (if attempts remain)
    GiveUp(why)              nothing more to try: the job FAILS with "gave up after N attempts"

After ``max_attempts`` the job FAILS with a message a person understands. Runs in a
worker thread (every call here may block). The parts are the contracts: a
``SceneSource`` (which validates what it returns), a ``Renderer`` and a ``VideoStorage``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from appliance.config import Settings
from appliance.contracts import (
    REPAIRABLE_RENDER_STATUSES,
    GeneratedCodeRejected,
    GeneratedScene,
    Renderer,
    RenderResult,
    RenderStatus,
    RepairFeedback,
    SceneSource,
    SpeechClip,
    SpeechSynthesizer,
    VideoStorage,
    VoiceRequest,
)
from appliance.errors import (
    AllProvidersFailed,
    CodeRejected,
    GenerationError,
    ModelBudgetExhausted,
    NotFound,
    SandboxError,
    StorageError,
    UnsupportedProblem,
)
from appliance.generation.builtin.language import detect_language, normalise_language
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus, readable_text
from appliance.storage.base import new_key
from appliance.store import Store, code_cache_key

log = logging.getLogger(__name__)
S = ProcessingStatus

STATUS_MESSAGES = {
    S.AI_GENERATING: "Writing the scene",
    S.CODE_VALIDATING: "Checking the scene code",
    S.RENDERING: "Rendering the video",
    S.UPLOADING: "Uploading the video",
    S.READY: "Your video is ready",
}
REFUSED_MESSAGE = "The generated scene could not be made safe to run."


class Interrupted(Exception):
    """The worker is shutting down and gave this job back to the queue: write nothing more."""


class Cancelled(Exception):
    """The person cancelled the job; it fails at the step it reached."""


# -- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """Why an attempt did not give a video: a stable ``reason`` code, a sentence for the
    person, and the error text kept on the job (and fed back to the model)."""

    reason: str
    message: str
    error: str


@dataclass(frozen=True)
class Finished:
    """The job reached READY or FAILED."""

    job: ProcessingJob


@dataclass(frozen=True)
class Repair:
    """The attempt failed in a way the model may fix: try again with ``feedback``."""

    feedback: RepairFeedback
    failure: Failure


@dataclass(frozen=True)
class GiveUp:
    """The attempt failed and another one would not help."""

    failure: Failure


AttemptOutcome = Finished | Repair | GiveUp


@dataclass(frozen=True)
class CachedScene:
    """A scene that rendered before for the same problem, language and quality."""

    code: str
    scene_name: str
    provider: str | None
    answer_text: str | None
    answer_check: str | None
    steps: tuple[str, ...] = ()
    narration: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, object] | None) -> CachedScene | None:
        if not row or not isinstance(row.get("code"), str) or not isinstance(row.get("scene_name"), str):
            return None

        def text(name: str) -> str | None:
            value = row.get(name)
            return value if isinstance(value, str) else None

        def texts(name: str) -> tuple[str, ...]:
            value = row.get(name)
            return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()

        return cls(str(row["code"]), str(row["scene_name"]), text("provider"), text("answer_text"),
                   text("answer_check"), texts("steps"), texts("narration"))

    def to_row(self) -> dict[str, object]:
        return {"code": self.code, "scene_name": self.scene_name, "provider": self.provider,
                "answer_text": self.answer_text, "answer_check": self.answer_check, "steps": list(self.steps),
                "narration": list(self.narration)}


# -- small job changes (named, so each ``transition_job`` says what it records) ---------------


def _set_last_error(error: str, job: ProcessingJob) -> None:
    job.last_error = error


def _count_attempt(attempt: int, message: str, job: ProcessingJob) -> None:
    job.attempts = attempt
    job.status_message = message


def _record_scene(scene: GeneratedScene | CachedScene, job: ProcessingJob) -> None:
    job.manim_code = scene.code
    job.scene_name = scene.scene_name
    job.ai_provider_used = scene.provider
    # The model's words, stored and shown everywhere: a lone surrogate in them would make the
    # job unreadable (no JSON or UTF-8 writer accepts one), so such characters become U+FFFD.
    job.answer_text = readable_text(scene.answer_text) if scene.answer_text is not None else None
    job.answer_check = scene.answer_check
    # The solution as text, for the person before the video: the model's (or the solver's)
    # words, so made storable like the answer.
    job.steps = [readable_text(step)[:MAX_STEP_CHARS] for step in scene.steps[:MAX_STEPS_KEPT]]
    if isinstance(scene, CachedScene):
        job.code_cache_hit = True
        return
    job.repairs = list(scene.repairs)
    if scene.errors:
        job.ai_error = "; ".join(scene.errors)[:2000]


MAX_STEPS_KEPT = 20
MAX_STEP_CHARS = 500


def _record_render(result: RenderResult, upload_key: str, job: ProcessingJob) -> None:
    job.upload_key = upload_key
    job.render_duration_seconds = round(result.duration_s, 3)
    job.video_size_bytes = result.video_size_bytes
    if result.video_duration_s is not None:
        job.video_duration_seconds = round(result.video_duration_s, 3)
    job.video_width, job.video_height = result.video_width, result.video_height
    job.voice_engine = result.voice_engine if result.has_audio else "none"
    job.voice_language = _voice(job).language if result.has_audio else None
    job.subtitles = [cue.to_dict() for cue in result.subtitles]
    checked = result.layout is not None and result.layout.checked
    job.layout_errors = result.layout.errors if result.layout is not None and checked else None
    job.layout_warnings = result.layout.warnings if result.layout is not None and checked else None
    job.layout_issues = [issue.to_dict() for issue in result.layout.issues[:MAX_LAYOUT_ISSUES_KEPT]] \
        if result.layout is not None else []


MAX_LAYOUT_ISSUES_KEPT = 5


def _voice(job: ProcessingJob, clips: tuple[SpeechClip, ...] = ()) -> VoiceRequest:
    """The narration a job's render asks for: its voice choice, in its problem's language (the
    one its frontend named, else the one its text is written in)."""
    language = normalise_language(job.problem_language) or detect_language(job.problem_text)
    return VoiceRequest(enabled=job.voice, language=language, clips=clips)


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        source: SceneSource,
        renderer: Renderer,
        storage: VideoStorage,
        metrics: Metrics,
        publish: Callable[[ProcessingJob], None],
        prelude: str = "",
        speech: SpeechSynthesizer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.source = source
        self.renderer = renderer
        self.storage = storage
        self.metrics = metrics
        self.publish = publish
        self.prelude = prelude  # executed in the scene's namespace inside the sandbox
        self.speech = speech  # the operator's speech endpoint, if any (else the sandbox's espeak-ng)

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

    def fail(self, job_id: str, failure: Failure) -> ProcessingJob:
        """FAILED with ``failure``'s reason and message (the error kept for the operator)."""
        def record(job: ProcessingJob) -> None:
            job.failure_reason = failure.reason
            if failure.error:
                job.last_error = failure.error[-2000:]

        job = self._move(job_id, S.FAILED, failure.message, record)
        self.metrics.inc("appliance_job_failures_total", reason=failure.reason)
        self.metrics.inc("appliance_jobs_finished_total", status="failed")
        return job

    # -- the job -----------------------------------------------------------------------------

    def run(self, job_id: str, interrupted: Callable[[], bool] = lambda: False) -> ProcessingJob:
        """Work on one job until it is READY or FAILED (or the worker gives it back)."""
        try:
            return self._run(job_id, interrupted)
        except Cancelled:
            return self.fail(job_id, Failure("cancelled", "Cancelled", ""))

    def _run(self, job_id: str, interrupted: Callable[[], bool]) -> ProcessingJob:
        job = self.store.get_job(job_id)
        if job.status is not S.QUEUED:
            log.warning("job %s popped in status %s; skipping", job_id, job.status.value)
            return job
        if job.cancel_requested:
            return self.fail(job_id, Failure("cancelled", "Cancelled", ""))
        if job.interruptions > self.settings.max_interruptions:
            times = job.interruptions
            return self.fail(job_id, Failure(
                "interrupted", f"The appliance restarted {times} times while this video was being made, so it "
                "was stopped; please send the problem again.",
                f"interrupted {times} times (APPLIANCE_MAX_INTERRUPTIONS={self.settings.max_interruptions})"))

        cache_key = code_cache_key(job.problem_text, job.problem_language, job.quality)
        cached = CachedScene.from_row(self.store.get_cached_code(cache_key)) if self.settings.code_cache else None
        if self.settings.code_cache:
            self.metrics.inc("appliance_code_cache_hits_total" if cached else "appliance_code_cache_misses_total")

        feedback: RepairFeedback | None = None
        # Only seen when no attempt is left at the start (a failed job always says why).
        last = Failure("attempts_exhausted", "The video could not be made.",
                       f"all {self.settings.max_attempts} attempts were used before this run")
        while job.attempts < self.settings.max_attempts:
            outcome = self.attempt(job, feedback, cached, interrupted)
            if isinstance(outcome, Finished):
                return outcome.job
            last = outcome.failure
            if isinstance(outcome, GiveUp):
                break
            feedback, cached = outcome.feedback, None
            job = self.store.get_job(job_id)

        attempts = self.store.get_job(job_id).attempts
        return self.fail(job_id, Failure(last.reason, f"{last.message} (gave up after {attempts} attempts)",
                                         last.error))

    def attempt(
        self,
        job: ProcessingJob,
        feedback: RepairFeedback | None,
        cached: CachedScene | None,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> AttemptOutcome:
        """One attempt: a scene (cached, or written with ``feedback``), its render, its upload."""
        job_id = job.job_id
        attempt = job.attempts + 1
        label = f" (attempt {attempt} of {self.settings.max_attempts})" if attempt > 1 else ""
        message = STATUS_MESSAGES[S.AI_GENERATING] + label
        count = partial(_count_attempt, attempt, message)
        if job.status is S.QUEUED:
            job = self._move(job_id, S.AI_GENERATING, message, count, interrupted)
        else:
            # Already back in AI_GENERATING through a repair arc.
            job = self.store.update_job(job_id, count)
            self.publish(job)
        self.metrics.inc("appliance_generation_attempts_total")

        if cached is not None and feedback is None:
            # Cached code was validated when it was made: straight to rendering.
            job = self._move(job_id, S.RENDERING, "Rendering the video (reusing a scene made earlier)",
                             partial(_record_scene, cached), interrupted)
            code, scene_name, narration = cached.code, cached.scene_name, cached.narration
            notice = None
            written: GeneratedScene | None = None
        else:
            outcome = self._write_scene(job, feedback, interrupted)
            if not isinstance(outcome, GeneratedScene):
                return outcome
            written = outcome
            code, scene_name, notice = written.code, written.scene_name, written.notice
            narration = tuple(written.narration)
            job = self.store.get_job(job_id)

        result = self._render(job, code, scene_name, narration, interrupted)
        if result.ok and written is not None and self._layout_fix_wanted(self.store.get_job(job_id), result):
            return Finished(self._retry_layout(job_id, written, result, interrupted))
        if result.ok:
            return Finished(self._upload(job, result, interrupted, notice, narration))
        error = (result.stderr_tail or result.message)[-2000:]
        failure = Failure(f"render_{result.status.value}", result.message, error)
        job = self.store.get_job(job_id)
        # The built-in solver's scenes do not improve by asking again.
        repairable = result.status in REPAIRABLE_RENDER_STATUSES and job.ai_provider_used != "builtin"
        if not repairable or job.attempts >= self.settings.max_attempts:
            return GiveUp(failure)
        self._move(job_id, S.AI_GENERATING, f"{result.message} Asking for a fix", partial(_set_last_error, error),
                   interrupted)
        return Repair(RepairFeedback(code, error, "render"), failure)

    def _write_scene(
        self, job: ProcessingJob, feedback: RepairFeedback | None, interrupted: Callable[[], bool]
    ) -> GeneratedScene | Finished | Repair:
        """The source's scene, recorded on the job, which moves on to RENDERING; or the outcome
        of an attempt that produced no scene."""
        job_id = job.job_id
        try:
            scene = self.source.generate(job.problem_text, job.problem_language, feedback)
        except CodeRejected as exc:
            previous = exc.code if isinstance(exc, GeneratedCodeRejected) else ""
            if previous:
                self.store.update_job(job_id, partial(_set_manim_code, previous))
            self._move(job_id, S.CODE_VALIDATING, interrupted=interrupted)
            self._move(job_id, S.AI_GENERATING, f"The scene was refused: {exc.reason}. Asking for a fix",
                       partial(_set_last_error, exc.reason), interrupted)
            refused = Failure("code_rejected", REFUSED_MESSAGE, exc.reason)
            current = self.store.get_job(job_id).manim_code or ""
            return Repair(RepairFeedback(current, exc.reason, "validation"), refused)
        except UnsupportedProblem as exc:
            return Finished(self.fail(job_id, Failure("unsupported_problem", str(exc), str(exc))))
        except AllProvidersFailed as exc:
            # The person reads the exception's sentence; the providers' errors (which can name
            # internal hosts) are kept on the job's internal record only.
            detail = "; ".join([*exc.failures, str(exc)])
            self.store.update_job(job_id, partial(_set_ai_error, detail[:2000]))
            reason = "model_budget" if isinstance(exc, ModelBudgetExhausted) else "generation_failed"
            return Finished(self.fail(job_id, Failure(reason, str(exc), detail)))
        except GenerationError as exc:
            return Finished(self.fail(job_id, Failure("generation_failed", f"The scene could not be written: {exc}",
                                                      str(exc))))

        self.metrics.inc("appliance_provider_used_total", provider=scene.provider)
        # The source validated and repaired the code; CODE_VALIDATING records that step.
        self._move(job_id, S.CODE_VALIDATING, _noted(S.CODE_VALIDATING, scene.notice), partial(_record_scene, scene),
                   interrupted)
        self._move(job_id, S.RENDERING, _noted(S.RENDERING, scene.notice), None, interrupted)
        return scene

    def _render(self, job: ProcessingJob, code: str, scene_name: str, narration: tuple[str, ...],
                interrupted: Callable[[], bool]) -> RenderResult:
        voice = _voice(job)
        if voice.enabled and narration and self.speech is not None:
            # Synthesized here, where the key is; the sandbox only gets the audio.
            voice = _voice(job, self.speech.synthesize(narration, voice.language))
        started = time.monotonic()
        result = self.renderer.render(code, scene_name, job.quality, prelude=self.prelude, voice=voice)
        self.metrics.inc("appliance_render_seconds_total", time.monotonic() - started)
        self.metrics.inc("appliance_renders_total", outcome=result.status.value)
        if interrupted():
            result.discard_video()
            raise Interrupted(job.job_id)
        if result.status is RenderStatus.UNAVAILABLE:
            result.discard_video()
            raise SandboxError(result.message)
        if not result.ok:
            result.discard_video()
        elif result.layout is not None:
            layout = result.layout
            outcome = "unchecked" if not layout.checked else "errors" if layout.errors else \
                "warnings" if layout.warnings else "clean"
            self.metrics.inc("appliance_layout_checks_total", outcome=outcome)
            for issue in layout.issues:
                self.metrics.inc("appliance_layout_issues_total", kind=issue.kind, severity=issue.severity)
        return result

    # -- the layout gate's second chance -------------------------------------------------------

    def _layout_fix_wanted(self, job: ProcessingJob, result: RenderResult) -> bool:
        """A model's video with layout errors goes back to the model once, if an attempt is left."""
        return (result.layout is not None and result.layout.checked and result.layout.errors > 0
                and job.ai_provider_used not in (None, "builtin") and job.attempts < self.settings.max_attempts)

    def _retry_layout(self, job_id: str, first_scene: GeneratedScene, first: RenderResult,
                      interrupted: Callable[[], bool]) -> ProcessingJob:
        """Ask the model to fix the first video's layout errors, keeping that video (a file this
        pipeline owns until it is stored) meanwhile; the better of the two ships (the retry only
        if it has fewer errors, or as many and fewer warnings), with its own findings."""
        assert first.layout is not None
        feedback = RepairFeedback(first_scene.code, first.layout.feedback(), "layout")
        shipped, scene = first, first_scene
        second: RenderResult | None = None
        finished = False
        try:
            job = self.store.get_job(job_id)
            attempt = job.attempts + 1
            message = (f"The video has layout problems ({first.layout.errors}); asking for a fix "
                       f"(attempt {attempt} of {self.settings.max_attempts})")
            self._move(job_id, S.AI_GENERATING, message, partial(_count_attempt, attempt, message), interrupted)
            self.metrics.inc("appliance_generation_attempts_total")
            retried = self._write_layout_fix(job, feedback, interrupted)
            if retried is not None:
                job = self.store.get_job(job_id)
                try:
                    second = self._render(job, retried.code, retried.scene_name, tuple(retried.narration),
                                          interrupted)
                except SandboxError as exc:
                    log.warning("job %s: the layout retry could not render (%s); the first video ships", job_id, exc)
                if second is not None and second.ok and _layout_rank(second) < _layout_rank(first):
                    shipped, scene = second, retried
            self.metrics.inc("appliance_layout_retries_total",
                             outcome="improved" if shipped is second else "kept_first")
            if scene is first_scene:
                # The job records the scene that ships (its code, steps and answer), not the retry's.
                job = self.store.get_job(job_id)
                if job.status is S.RENDERING:
                    self.store.update_job(job_id, partial(_record_scene, first_scene))
                else:
                    self._move(job_id, S.RENDERING, _noted(S.RENDERING, first_scene.notice),
                               partial(_record_scene, first_scene), interrupted)
            finished = True
        finally:
            for result in (first, second):
                if result is not None and (not finished or result is not shipped):
                    result.discard_video()
        return self._upload(self.store.get_job(job_id), shipped, interrupted, scene.notice, tuple(scene.narration))

    def _write_layout_fix(self, job: ProcessingJob, feedback: RepairFeedback,
                          interrupted: Callable[[], bool]) -> GeneratedScene | None:
        """The model's scene for ``feedback``, recorded and RENDERING; None (the job still in
        AI_GENERATING) when it could not write one: then the first video ships."""
        try:
            scene = self.source.generate(job.problem_text, job.problem_language, feedback)
        except (CodeRejected, GenerationError) as exc:
            log.info("job %s: no layout fix from the model (%s); the first video ships", job.job_id, exc)
            return None
        self.metrics.inc("appliance_provider_used_total", provider=scene.provider)
        self._move(job.job_id, S.CODE_VALIDATING, _noted(S.CODE_VALIDATING, scene.notice),
                   partial(_record_scene, scene), interrupted)
        self._move(job.job_id, S.RENDERING, _noted(S.RENDERING, scene.notice), None, interrupted)
        return scene

    def _upload(
        self, job: ProcessingJob, result: RenderResult, interrupted: Callable[[], bool], notice: str | None = None,
        narration: tuple[str, ...] = (),
    ) -> ProcessingJob:
        job_id = job.job_id
        assert result.video_path is not None  # result.ok
        video_path = result.video_path
        try:
            # The key is recorded with UPLOADING, before the upload starts: the stray-video
            # sweep spares it while the job uploads.
            key = new_key()
            job = self._move(job_id, S.UPLOADING, _noted(S.UPLOADING, notice),
                             partial(_record_render, result, key), interrupted)
            try:
                stored = self.storage.put(key, video_path)
            except StorageError as exc:
                return self.fail(job_id, Failure("storage_error", "The video could not be stored.", str(exc)))

            def record(j: ProcessingJob) -> None:
                j.video_key = stored.key
                j.upload_key = None
                j.video_url = stored.url
                j.video_expires_at = stored.expires_at
                j.video_size_bytes = stored.size_bytes

            job = self._move(job_id, S.READY, _noted(S.READY, notice), record, interrupted)
        finally:
            video_path.unlink(missing_ok=True)
        self.metrics.inc("appliance_jobs_finished_total", status="ready")
        # A scene whose video has layout errors is not reused: the next request gets a new one.
        layout_errors = result.layout is not None and result.layout.errors > 0
        if self.settings.code_cache and not job.code_cache_hit and job.manim_code and job.scene_name \
                and not layout_errors:
            scene = CachedScene(job.manim_code, job.scene_name, job.ai_provider_used, job.answer_text,
                                job.answer_check, tuple(job.steps), narration)
            cache_key = code_cache_key(job.problem_text, job.problem_language, job.quality)
            self.store.put_cached_code(cache_key, scene.to_row(), ttl=self.settings.code_cache_ttl_s)
        return job


def _layout_rank(result: RenderResult) -> tuple[int, int]:
    """Fewer layout errors first, then fewer warnings (an unchecked video ranks last)."""
    if result.layout is None or not result.layout.checked:
        return (1_000_000, 1_000_000)
    return (result.layout.errors, result.layout.warnings)


def _noted(status: ProcessingStatus, notice: str | None) -> str | None:
    """The status's message with the scene's notice after it (None: the status's own message)."""
    return f"{STATUS_MESSAGES[status]}. {notice}" if notice else None


def _set_manim_code(code: str, job: ProcessingJob) -> None:
    job.manim_code = code


def _set_ai_error(error: str, job: ProcessingJob) -> None:
    job.ai_error = error


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
        return _fail_quietly(pipeline, job_id, Failure(
            "sandbox_unavailable", "The renderer is unavailable right now; please try again later.", str(exc)))
    except Exception as exc:
        log.exception("job %s failed unexpectedly", job_id)
        return _fail_quietly(pipeline, job_id, Failure("internal_error", "Something went wrong on our side.",
                                                       repr(exc)))


def _fail_quietly(pipeline: Pipeline, job_id: str, failure: Failure) -> ProcessingJob | None:
    try:
        return pipeline.fail(job_id, failure)
    except Exception:
        # Already final, or the store itself is failing: the log line above says what happened.
        log.exception("could not record the failure of job %s", job_id)
        return None
