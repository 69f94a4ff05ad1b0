"""The state-machine driver on its own: every transition, retry and failure path.

The parts are the contract fakes of ``appliance.fakes`` (which return the real result
types); the store is the real diskcache store in a temporary directory.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.contracts import GeneratedCodeRejected, RenderResult, StoredVideo, VoiceRequest
from appliance.errors import AllProvidersFailed, GenerationError, StorageError, UnsupportedProblem
from appliance.fakes import FAKE_STEPS, FAKE_VIDEO, GOOD_CODE, DirectoryStorage, ScriptedRenderer, ScriptedSource
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus, UserSession
from appliance.pipeline import Interrupted, Pipeline, safe_run
from appliance.storage.base import new_key
from appliance.store import Store

S = ProcessingStatus
HAPPY_PATH = [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY]


class Rig:
    """A pipeline with fakes, a real store, and a record of every published status."""

    def __init__(self, tmp_path: Path, source: ScriptedSource | None = None,
                 renderer: ScriptedRenderer | None = None, storage: DirectoryStorage | None = None,
                 **overrides: object) -> None:
        self.settings = Settings.from_env({}, data_dir=tmp_path, **overrides)
        self.store = Store(tmp_path / "store")
        self.source = source or ScriptedSource()
        self.renderer = renderer or ScriptedRenderer()
        self.storage = storage or DirectoryStorage(tmp_path / "videos")
        self.metrics = Metrics()
        self.published: list[ProcessingJob] = []
        self.pipeline = Pipeline(self.settings, self.store, self.source, self.renderer, self.storage,
                                 self.metrics, self.published.append, prelude="# prelude")
        self.session = self.store.create_session(UserSession.new(channel="api"))

    def queue(self, problem: str = "Solve 2x + 3 = 11", voice: bool = True, language: str | None = None) -> str:
        job = self.store.create_job(ProcessingJob.new(self.session.session_id, problem, quality="low", voice=voice,
                                                      language=language), max_active=10)
        return job.job_id

    def statuses(self, job_id: str) -> list[ProcessingStatus]:
        seen: list[ProcessingStatus] = []
        for job in self.published:
            if job.job_id == job_id and (not seen or seen[-1] is not job.status):
                seen.append(job.status)
        return seen

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def rig_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    rigs: list[Rig] = []

    def make(**kwargs: object) -> Rig:
        rig = Rig(tmp_path, **kwargs)  # type: ignore[arg-type]
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


class RecordingRenderer(ScriptedRenderer):
    """Keeps every result it hands out, so a test can see its video file was deleted."""

    def __init__(self, outcomes: list[str] | None = None) -> None:
        super().__init__(outcomes)
        self.results: list[RenderResult] = []

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        result = super().render(code, scene_name, quality, prelude)
        if result.video_path is None:
            result.video_path = self.video_result().video_path  # a failed render that left a file
        self.results.append(result)
        return result


def refused(code: str = "import os", reason: str = "line 1: import of 'os' is not allowed") -> GeneratedCodeRejected:
    return GeneratedCodeRejected(reason, code, "openai", "openai/fake")


def test_a_good_scene_goes_through_every_status_to_ready(rig_factory) -> None:  # type: ignore[no-untyped-def]
    renderer = RecordingRenderer()
    rig = rig_factory(renderer=renderer)
    job_id = rig.queue()
    job = rig.pipeline.run(job_id)
    assert job.status is S.READY
    assert rig.statuses(job_id) == HAPPY_PATH
    assert job.attempts == 1 and job.manim_code == GOOD_CODE and job.ai_provider_used == "openai"
    assert job.answer_text == "x = 4" and job.answer_check == "verified"
    assert job.video_key and rig.storage.exists(job.video_key)
    assert job.video_size_bytes == len(FAKE_VIDEO) and job.render_duration_seconds is not None
    # The render's own file was handed over to storage, then deleted.
    assert renderer.results[0].video_path is not None and not renderer.results[0].video_path.exists()
    assert rig.renderer.rendered == [GOOD_CODE]
    assert 'appliance_jobs_finished_total{status="ready"} 1' in rig.metrics.render()


def test_a_refused_scene_goes_back_to_the_model_with_the_reason_and_its_code(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(source=ScriptedSource([refused("import os\nx = 1"), GOOD_CODE]))
    job_id = rig.queue()
    job = rig.pipeline.run(job_id)
    assert job.status is S.READY and job.attempts == 2
    assert rig.statuses(job_id) == [S.AI_GENERATING, S.CODE_VALIDATING, S.AI_GENERATING, *HAPPY_PATH[1:]]
    first, second = rig.source.calls
    assert first[1] is None
    feedback = second[1]
    assert feedback is not None and feedback.kind == "validation"
    assert feedback.previous_code == "import os\nx = 1" and "import of 'os'" in feedback.error
    messages = [j.status_message for j in rig.published if j.job_id == job_id]
    assert any(m and "attempt 2 of 3" in m for m in messages)
    assert any(m and m.startswith("The scene was refused") for m in messages)


def test_a_scene_refused_every_time_fails_after_the_attempt_budget(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(source=ScriptedSource([refused(), refused(), refused()]))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.FAILED and job.failure_reason == "code_rejected"
    assert job.attempts == 3 and len(rig.source.calls) == 3
    assert job.status_message == "The generated scene could not be made safe to run. (gave up after 3 attempts)"
    assert job.last_error and "import of 'os'" in job.last_error
    assert rig.renderer.rendered == []


def test_a_failed_render_goes_back_to_the_model_with_the_error(rig_factory) -> None:  # type: ignore[no-untyped-def]
    renderer = RecordingRenderer(["scene_error"])
    rig = rig_factory(renderer=renderer)
    job_id = rig.queue()
    job = rig.pipeline.run(job_id)
    assert job.status is S.READY and job.attempts == 2
    assert rig.statuses(job_id) == [*HAPPY_PATH[:3], S.AI_GENERATING, *HAPPY_PATH[1:]]
    feedback = rig.source.calls[1][1]
    assert feedback is not None and feedback.kind == "render"
    assert feedback.previous_code == GOOD_CODE and "NameError: boom" in feedback.error
    # The failed render's file is gone, not left on disk.
    failed = renderer.results[0].video_path
    assert failed is not None and not failed.exists()


@pytest.mark.parametrize("status", ["timeout", "memory", "process_limit", "output_limit", "no_video"])
def test_every_repairable_render_status_is_retried(rig_factory, status: str) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(renderer=ScriptedRenderer([status]))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.READY and job.attempts == 2
    assert rig.source.calls[1][1] is not None and rig.source.calls[1][1].kind == "render"


def test_renders_failing_every_time_give_up_at_the_last_attempt(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(renderer=ScriptedRenderer(["scene_error"] * 3))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.FAILED and job.failure_reason == "render_scene_error"
    assert job.attempts == 3 and len(rig.renderer.rendered) == 3
    assert job.status_message == "The animation code failed while rendering. (gave up after 3 attempts)"
    # The last failure is not sent back for a fourth attempt.
    assert rig.statuses(job.job_id)[-2:] == [S.RENDERING, S.FAILED]


def test_the_builtin_solvers_failed_render_is_not_retried(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(source=ScriptedSource(provider="builtin"), renderer=ScriptedRenderer(["scene_error"]))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.FAILED and job.attempts == 1 and len(rig.source.calls) == 1
    assert job.failure_reason == "render_scene_error" and "gave up after 1 attempts" in (job.status_message or "")


@pytest.mark.parametrize(("error", "reason", "message"), [
    (UnsupportedProblem("the built-in solver does not know this"), "unsupported_problem",
     "the built-in solver does not know this"),
    (AllProvidersFailed("Every language model failed"), "generation_failed", "Every language model failed"),
    (GenerationError("no words"), "generation_failed", "The scene could not be written: no words"),
])
def test_a_source_that_cannot_help_fails_the_job_at_once(rig_factory, error: Exception, reason: str,  # type: ignore[no-untyped-def]
                                                         message: str) -> None:
    rig = rig_factory(source=ScriptedSource([error]))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.FAILED and job.failure_reason == reason and job.status_message == message
    assert job.attempts == 1 and rig.renderer.rendered == []
    assert rig.statuses(job.job_id) == [S.AI_GENERATING, S.FAILED]
    if isinstance(error, AllProvidersFailed):
        assert job.ai_error == "Every language model failed"


def test_an_unreachable_renderer_fails_the_job_as_unavailable_not_as_a_bad_scene(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(renderer=ScriptedRenderer(["unavailable"]))
    job_id = rig.queue()
    job = safe_run(rig.pipeline, job_id, lambda: False)
    assert job is not None and job.status is S.FAILED and job.failure_reason == "sandbox_unavailable"
    assert len(rig.source.calls) == 1  # no repair prompt: the scene was not at fault


class BrokenStorage(DirectoryStorage):
    def put(self, key: str, video_path: Path) -> StoredVideo:
        raise StorageError("the disk is full")


def test_a_storage_failure_fails_the_job_and_deletes_the_rendered_file(rig_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    renderer = RecordingRenderer()
    rig = rig_factory(renderer=renderer, storage=BrokenStorage(tmp_path / "videos"))
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.FAILED and job.failure_reason == "storage_error"
    assert job.last_error == "the disk is full"
    assert rig.statuses(job.job_id)[-2:] == [S.UPLOADING, S.FAILED]
    video = renderer.results[0].video_path
    assert video is not None and not video.exists()


def test_a_job_cancelled_before_it_starts_fails_without_a_model_call(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory()
    job_id = rig.queue()
    rig.store.update_job(job_id, lambda j: setattr(j, "cancel_requested", True))
    job = rig.pipeline.run(job_id)
    assert job.status is S.FAILED and job.failure_reason == "cancelled" and job.status_message == "Cancelled"
    assert rig.source.calls == []


def test_a_job_cancelled_while_rendering_fails_at_its_next_step(rig_factory) -> None:  # type: ignore[no-untyped-def]
    hold = threading.Event()
    renderer = ScriptedRenderer(hold=hold)
    rig = rig_factory(renderer=renderer)
    job_id = rig.queue()
    result: list[ProcessingJob] = []
    runner = threading.Thread(target=lambda: result.append(rig.pipeline.run(job_id)))
    runner.start()
    assert renderer.started.wait(10)
    rig.store.update_job(job_id, lambda j: setattr(j, "cancel_requested", True))
    hold.set()
    runner.join(30)
    job = result[0]
    assert job.status is S.FAILED and job.failure_reason == "cancelled"
    assert S.UPLOADING not in rig.statuses(job_id) and job.video_key is None


def test_an_interrupted_render_hands_the_job_back_untouched(rig_factory) -> None:  # type: ignore[no-untyped-def]
    renderer = RecordingRenderer()
    rig = rig_factory(renderer=renderer)
    job_id = rig.queue()
    with pytest.raises(Interrupted):
        rig.pipeline.run(job_id, interrupted=lambda: bool(renderer.rendered))
    job = rig.store.get_job(job_id)
    assert job.status is S.RENDERING  # the worker re-queues it; nothing more was written
    video = renderer.results[0].video_path
    assert video is not None and not video.exists()
    assert safe_run(rig.pipeline, rig.queue(), lambda: True) is None


def test_a_scene_that_rendered_before_is_reused_without_a_model_call(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory()
    first = rig.pipeline.run(rig.queue("Solve 2x + 3 = 11"))
    assert first.status is S.READY and not first.code_cache_hit
    second = rig.pipeline.run(rig.queue("solve  2x + 3 = 11"))
    assert second.status is S.READY and second.code_cache_hit
    assert len(rig.source.calls) == 1 and second.manim_code == first.manim_code
    assert second.answer_text == first.answer_text and second.ai_provider_used == first.ai_provider_used
    assert rig.statuses(second.job_id) == [S.AI_GENERATING, S.RENDERING, S.UPLOADING, S.READY]


def test_a_cached_scene_that_fails_to_render_is_written_again(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(renderer=ScriptedRenderer(["ok", "scene_error"]))
    rig.pipeline.run(rig.queue())
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.READY and job.attempts == 2
    feedback = rig.source.calls[-1][1]
    assert len(rig.source.calls) == 2 and feedback is not None and feedback.kind == "render"


def test_a_job_that_is_not_queued_is_left_alone(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory()
    job_id = rig.queue()
    rig.pipeline.run(job_id)
    again = rig.pipeline.run(job_id)
    assert again.status is S.READY and len(rig.source.calls) == 1


def test_an_unexpected_fault_fails_the_job_instead_of_the_worker(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(source=ScriptedSource([ZeroDivisionError("bug")]))
    job = safe_run(rig.pipeline, rig.queue(), lambda: False)
    assert job is not None and job.status is S.FAILED and job.failure_reason == "internal_error"
    assert job.status_message == "Something went wrong on our side."


class SceneNameRecorder(ScriptedRenderer):
    def __init__(self) -> None:
        super().__init__()
        self.scene_names: list[str] = []

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        self.scene_names.append(scene_name)
        return super().render(code, scene_name, quality, prelude)


def test_the_scene_class_rendered_is_the_one_the_code_defines(rig_factory) -> None:  # type: ignore[no-untyped-def]
    # The source's checked scene names its class; the pipeline renders exactly that one.
    code = "from manim import *\n\nclass Slow(Scene):\n    def construct(self):\n        self.wait(1)\n"
    renderer = SceneNameRecorder()
    rig = rig_factory(source=ScriptedSource([code]), renderer=renderer)
    job = rig.pipeline.run(rig.queue())
    assert job.status is S.READY and job.scene_name == "Slow" and renderer.scene_names == ["Slow"]


def test_restarts_do_not_use_up_a_jobs_attempts(rig_factory) -> None:  # type: ignore[no-untyped-def]
    # Interrupted in the middle of its first attempt three times (max_attempts is 3): the job
    # still gets all its attempts and ends READY after the next, uninterrupted run.
    rig = rig_factory(renderer=ScriptedRenderer(["scene_error"]))
    job_id = rig.queue()
    for _ in range(3):
        assert rig.store.pop_next() == job_id
        with pytest.raises(Interrupted):
            rig.pipeline.run(job_id, interrupted=lambda: bool(rig.source.calls))
        rig.source.calls.clear()
        assert rig.store.requeue(job_id, "Waiting in line again: the appliance restarted")
    assert rig.store.pop_next() == job_id
    job = rig.pipeline.run(job_id)
    assert job.status is S.READY and job.interruptions == 3 and job.attempts == 2


def test_a_job_interrupted_too_often_fails_saying_so(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(max_interruptions=2)
    job_id = rig.queue()
    rig.store.update_job(job_id, lambda j: setattr(j, "interruptions", 3))
    job = rig.pipeline.run(job_id)
    assert job.status is S.FAILED and job.failure_reason == "interrupted"
    assert job.status_message is not None and "restarted 3 times" in job.status_message
    assert job.last_error and "APPLIANCE_MAX_INTERRUPTIONS=2" in job.last_error
    assert rig.source.calls == []


def test_a_job_with_no_attempt_left_records_why(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory()
    job_id = rig.queue()
    rig.store.update_job(job_id, lambda j: setattr(j, "attempts", 3))
    job = rig.pipeline.run(job_id)
    assert job.status is S.FAILED and job.failure_reason == "attempts_exhausted"
    assert job.last_error == "all 3 attempts were used before this run"


def test_the_steps_are_on_the_job_before_the_render_starts(rig_factory) -> None:  # type: ignore[no-untyped-def]
    """The person can read the solution while the video renders."""
    hold = threading.Event()
    renderer = ScriptedRenderer(hold=hold)
    rig = rig_factory(renderer=renderer, source=ScriptedSource(steps=["Subtract 3: 2x = 8", "Divide by 2: x = 4"]))
    job_id = rig.queue()
    worker = threading.Thread(target=rig.pipeline.run, args=(job_id,))
    worker.start()
    try:
        assert renderer.started.wait(10)
        rendering = rig.store.get_job(job_id)
        assert rendering.status is S.RENDERING
        assert rendering.steps == ["Subtract 3: 2x = 8", "Divide by 2: x = 4"]
        assert any(job.steps for job in rig.published if job.status is S.CODE_VALIDATING)
    finally:
        hold.set()
        worker.join(10)
    assert rig.store.get_job(job_id).status is S.READY


@pytest.mark.parametrize("voice", [True, False])
def test_the_render_is_asked_for_the_jobs_voice_and_what_spoke_is_recorded(rig_factory, voice: bool) -> None:  # type: ignore[no-untyped-def]
    renderer = ScriptedRenderer()
    rig = rig_factory(renderer=renderer)
    job = rig.pipeline.run(rig.queue("Реши уравнение 2x + 3 = 11", voice=voice, language="ru"))
    assert renderer.voices == [VoiceRequest(enabled=voice, language="ru")]
    assert job.status is S.READY and job.voice is voice
    assert job.voice_engine == ("espeak-ng" if voice else "none")
    assert job.voice_language == ("ru" if voice else None)
    assert job.subtitles == [{"start_s": 0.0, "end_s": 1.5, "text": "Subtract 3 from both sides"}]
    assert (job.video_duration_seconds, job.video_width, job.video_height) == (2.0, 854, 480)


def test_a_cached_scene_brings_its_steps(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory(code_cache=True)
    rig.pipeline.run(rig.queue())
    again = rig.pipeline.run(rig.queue())
    assert again.code_cache_hit and again.steps == FAKE_STEPS


class WatchedStorage(DirectoryStorage):
    """Storage that looks at the job while its video is being stored."""

    def __init__(self, root: Path, store: Store) -> None:
        super().__init__(root)
        self.store = store
        self.seen: list[tuple[str, ProcessingJob]] = []

    def put(self, key: str, video_path: Path) -> StoredVideo:
        (job,) = [job for job in self.store.iter_jobs() if job.status is S.UPLOADING]
        self.seen.append((key, job))
        return super().put(key, video_path)


def test_the_video_key_is_opaque_and_recorded_before_the_upload(rig_factory) -> None:  # type: ignore[no-untyped-def]
    rig = rig_factory()
    store = rig.store
    storage = rig.storage = rig.pipeline.storage = WatchedStorage(rig.storage.root, store)
    job_id = rig.queue()
    job = rig.pipeline.run(job_id)
    ((key, uploading),) = storage.seen
    # While the file is written the job already names it (the stray sweep spares it) ...
    assert uploading.upload_key == key and uploading.video_key is None
    # ... and once READY the key is the video's; it says nothing about the job or its session.
    assert job.status is S.READY and job.video_key == key and job.upload_key is None
    assert job_id not in key and rig.session.session_id not in key and key.startswith("video-")
    assert store.job_for_video(key) == job and store.job_for_video(new_key()) is None
