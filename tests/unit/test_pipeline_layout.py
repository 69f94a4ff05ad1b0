"""The layout gate in the pipeline: findings recorded on the job and counted; a model's video
with layout errors goes back to the model once, and the better of the two videos ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.contracts import LayoutBox, LayoutIssue, LayoutReport, RenderResult, RenderStatus, VoiceRequest
from appliance.errors import AllProvidersFailed
from appliance.fakes import GOOD_CODE, DirectoryStorage, ScriptedRenderer, ScriptedSource
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus, UserSession
from appliance.pipeline import Pipeline
from appliance.store import Store, code_cache_key
from frontends.api import job_details
from frontends.cli import sandbox as cli

S = ProcessingStatus
OTHER_CODE = GOOD_CODE.replace("Circle()", "Square()")


def report(errors: int = 0, warnings: int = 0) -> LayoutReport:
    issues = tuple(
        LayoutIssue("text_overlap", "error", 1.0 + n, (f'MathTex "a{n}"', 'MathTex "b"'),
                    (LayoutBox(0, 0, 1, 1), LayoutBox(0.5, 0, 1.5, 1)), "they overlap", 2.0) for n in range(errors)
    ) + tuple(LayoutIssue("still_frame", "warning", 5.0, (), (), "nothing changes", 12.0) for _ in range(warnings))
    return LayoutReport(True, errors, warnings, issues, 5, 14.222, 8.0)


class LayoutRenderer(ScriptedRenderer):
    """Renders as ScriptedRenderer and attaches the next layout report of a script; keeps
    every result so a test can see which video files were deleted."""

    def __init__(self, layouts: list[LayoutReport | None], outcomes: list[str] | None = None) -> None:
        super().__init__(outcomes)
        self.layouts = list(layouts)
        self.results: list[RenderResult] = []

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        result = super().render(code, scene_name, quality, prelude, voice)
        result.layout = self.layouts.pop(0) if self.layouts else None
        if result.video_path is not None:
            result.video_path.write_text(code)  # so a test can tell which video shipped
        self.results.append(result)
        return result


class Rig:
    def __init__(self, tmp_path: Path, renderer: LayoutRenderer, source: ScriptedSource | None = None,
                 **overrides: object) -> None:
        self.settings = Settings.from_env({}, data_dir=tmp_path, **overrides)
        self.store = Store(tmp_path / "store")
        self.source = source or ScriptedSource([GOOD_CODE, OTHER_CODE])
        self.renderer = renderer
        self.storage = DirectoryStorage(tmp_path / "videos")
        self.metrics = Metrics()
        self.published: list[ProcessingJob] = []
        self.pipeline = Pipeline(self.settings, self.store, self.source, renderer, self.storage, self.metrics,
                                 self.published.append)
        session = self.store.create_session(UserSession.new(channel="api"))
        self.job_id = self.store.create_job(ProcessingJob.new(session.session_id, "Solve 2x + 3 = 11"),
                                            max_active=10).job_id

    def run(self) -> ProcessingJob:
        try:
            return self.pipeline.run(self.job_id)
        finally:
            self.store.close()

    def statuses(self) -> list[ProcessingStatus]:
        seen: list[ProcessingStatus] = []
        for job in self.published:
            if not seen or seen[-1] is not job.status:
                seen.append(job.status)
        return seen


def no_video_left(renderer: LayoutRenderer) -> bool:
    return all(result.video_path is None or not result.video_path.exists() for result in renderer.results)


def test_a_clean_video_ships_with_its_findings_on_the_job(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(warnings=1)]))
    job = rig.run()
    assert job.status is S.READY and job.attempts == 1 and len(rig.renderer.results) == 1
    assert (job.layout_errors, job.layout_warnings) == (0, 1)
    assert job.layout_issues == [{"kind": "still_frame", "severity": "warning", "time_s": 5.0, "duration_s": 12.0,
                                  "objects": [], "boxes": [], "detail": "nothing changes"}]
    text = rig.metrics.render()
    assert 'appliance_layout_checks_total{outcome="warnings"} 1' in text
    assert 'appliance_layout_issues_total{kind="still_frame",severity="warning"} 1' in text


def test_an_unchecked_video_has_no_counts(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([LayoutReport(False, note="no recording")]))
    job = rig.run()
    assert job.status is S.READY and (job.layout_errors, job.layout_warnings, job.layout_issues) == (None, None, [])
    assert 'appliance_layout_checks_total{outcome="unchecked"} 1' in rig.metrics.render()


def test_layout_errors_go_back_to_the_model_once_and_a_better_retry_ships(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=2), report(warnings=1)]))
    job = rig.run()
    assert job.status is S.READY and job.attempts == 2
    assert rig.statuses() == [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.AI_GENERATING, S.CODE_VALIDATING,
                              S.RENDERING, S.UPLOADING, S.READY]
    feedback = rig.source.calls[1][1]
    assert feedback is not None and feedback.kind == "layout" and feedback.previous_code == GOOD_CODE
    assert 'at 1.0 s: they overlap [MathTex "a0": x 0.00..1.00, y 0.00..1.00' in feedback.error
    assert job.manim_code == OTHER_CODE and (job.layout_errors, job.layout_warnings) == (0, 1)
    assert (rig.storage.root / (job.video_key or "")).read_text() == OTHER_CODE and no_video_left(rig.renderer)
    assert 'appliance_layout_retries_total{outcome="improved"} 1' in rig.metrics.render()
    assert any("layout problems (2)" in (j.status_message or "") for j in rig.published)


def test_a_retry_that_is_not_better_ships_the_first_video_and_scene(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1), report(errors=1, warnings=1)]))
    job = rig.run()
    assert job.status is S.READY and job.attempts == 2
    assert job.manim_code == GOOD_CODE and (job.layout_errors, job.layout_warnings) == (1, 0)
    assert (rig.storage.root / (job.video_key or "")).read_text() == GOOD_CODE and no_video_left(rig.renderer)
    assert 'appliance_layout_retries_total{outcome="kept_first"} 1' in rig.metrics.render()


def test_a_retry_that_fails_to_render_ships_the_first_video(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1)], outcomes=["ok", "scene_error"]))
    job = rig.run()
    assert job.status is S.READY and job.manim_code == GOOD_CODE and job.layout_errors == 1
    assert no_video_left(rig.renderer)


def test_a_model_that_cannot_write_the_fix_leaves_the_first_video(tmp_path: Path) -> None:
    source = ScriptedSource([GOOD_CODE, AllProvidersFailed("every provider failed")])
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1)]), source)
    job = rig.run()
    assert job.status is S.READY and job.manim_code == GOOD_CODE and job.layout_errors == 1
    assert rig.statuses() == [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.AI_GENERATING, S.RENDERING,
                              S.UPLOADING, S.READY]
    assert no_video_left(rig.renderer)


def test_no_retry_without_an_attempt_left(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1)]), max_attempts=1)
    job = rig.run()
    assert job.status is S.READY and job.attempts == 1 and len(rig.source.calls) == 1


def test_the_builtin_solvers_video_is_not_sent_back(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1)]), ScriptedSource(provider="builtin"))
    job = rig.run()
    assert job.status is S.READY and len(rig.source.calls) == 1 and job.layout_errors == 1


def test_a_scene_with_layout_errors_is_not_cached_for_reuse(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1)]), max_attempts=1)
    job = rig.run()
    assert job.status is S.READY
    store = Store(tmp_path / "store")
    try:
        assert store.get_cached_code(code_cache_key(job.problem_text, job.problem_language, job.quality)) is None
    finally:
        store.close()


def test_the_api_returns_the_layout_summary_of_the_job(tmp_path: Path) -> None:
    rig = Rig(tmp_path, LayoutRenderer([report(errors=1, warnings=1)]), max_attempts=1)
    details = job_details(rig.run())
    assert (details.layout_errors, details.layout_warnings) == (1, 1)
    assert [issue.kind for issue in details.layout_issues] == ["text_overlap", "still_frame"]
    assert details.layout_issues[0].objects == ['MathTex "a0"', 'MathTex "b"']
    assert details.layout_issues[0].boxes == [[0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0]]


def test_sandbox_run_prints_the_layout_report(capsys: pytest.CaptureFixture[str]) -> None:
    result = RenderResult(RenderStatus.OK, exit_code=0, duration_s=3.0, layout=report(errors=1, warnings=1))
    summary = {**result.to_dict(), "layout": report(errors=1, warnings=1).to_dict()}
    assert (summary["layout_errors"], summary["layout_warnings"]) == (1, 1)
    cli._print_text(summary)
    clean = {**result.to_dict(), "layout": LayoutReport(True).to_dict()}
    cli._print_text(clean)
    unchecked = {**result.to_dict(), "layout": LayoutReport(False, note="the scene left no layout recording").to_dict()}
    cli._print_text(unchecked)
    out = capsys.readouterr().out
    assert "  layout: 1 error(s), 1 warning(s)\n    error text_overlap at 1.0 s: they overlap" in out
    assert "  layout: checked, no issues" in out
    assert "  layout: not checked (the scene left no layout recording)" in out
