"""The orchestrator's logic with in-process fakes for generator, sandbox and storage.

The integration tier (tests/integration/test_service_*.py) runs the same life against
the real Docker sandbox, the built-in solver and real storage.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.errors import AllProvidersFailed, InvalidTransition, LimitExceeded, ProblemRejected
from appliance.models import ProcessingStatus
from appliance.service import Channel
from tests.unit.fakes import FAKE_VIDEO, GOOD_CODE, FakeGenerator, FakeSandbox, FakeStorage, rejected

S = ProcessingStatus


# Generation takes this long here, as a model's does: a slot that picks a job up at once could
# otherwise move it through several statuses before the test's ``watch`` subscribes.
GENERATION_S = 0.3


def make(tmp_path, generator=None, sandbox=None, run_workers=True, **overrides):
    settings = Settings.from_env({}, data_dir=tmp_path, render_slots=1, warm_pool_size=0, **overrides)
    storage = FakeStorage(tmp_path / "videos")
    generator = generator or FakeGenerator()
    if isinstance(generator, FakeGenerator) and not generator.delay_s:
        generator.delay_s = GENERATION_S
    app = build_appliance(settings, source=generator, renderer=sandbox or FakeSandbox(),
                    storage=storage, run_maintenance=False, run_workers=run_workers)
    return app, storage


async def collect(app, job_id):
    return [job async for job in app.watch(job_id, poll_interval_s=0.2)]


async def test_job_goes_through_every_status_to_delivered(tmp_path):
    app, storage = make(tmp_path)
    await app.start()
    try:
        response = await app.submit("Solve 2x + 3 = 11", Channel.telegram(42))
        assert response.status == "queued" and "line" in response.message
        seen = await asyncio.wait_for(collect(app, response.job_id), 20)
        statuses = [job.status for job in seen]
        assert statuses[-1] is S.READY
        for expected in (S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY):
            assert expected in statuses
        ready = seen[-1]
        assert ready.video_key and storage.exists(ready.video_key)
        assert ready.answer_text == "x = 4" and ready.ai_provider_used == "openai"
        assert ready.render_duration_seconds is not None and ready.video_size_bytes == len(FAKE_VIDEO)
        delivered = await app.mark_delivered(ready.job_id)
        assert delivered.status is S.DELIVERED and delivered.video_key is None
        assert not storage.exists(ready.video_key)
        session = await app.session_for_chat(42)
        assert session.total_submissions == 1 and session.successful_generations == 1
        history = await app.history(session.session_id)
        assert history[0].status is S.DELIVERED and history[0].delivered_at
    finally:
        await app.stop()


async def test_bad_problem_text_is_refused_and_nothing_queued(tmp_path):
    app, _ = make(tmp_path)
    await app.start()
    try:
        with pytest.raises(ProblemRejected, match="at least 10"):
            await app.submit("2+2", Channel.telegram(1))
        with pytest.raises(ProblemRejected, match="at most 5000"):
            await app.submit("x" * 5001, Channel.telegram(1))
        assert app.store.queue_length() == 0
    finally:
        await app.stop()


async def test_validation_failure_goes_back_to_the_model_with_the_reason(tmp_path):
    generator = FakeGenerator([rejected(), GOOD_CODE])
    app, _ = make(tmp_path, generator=generator)
    await app.start()
    try:
        response = await app.submit("Solve x^2 = 9 please", Channel.web())
        seen = await asyncio.wait_for(collect(app, response.job_id), 20)
        assert seen[-1].status is S.READY and seen[-1].attempts == 2
        statuses = [j.status for j in seen]
        assert statuses.index(S.CODE_VALIDATING) < len(statuses) - 1
        assert generator.calls[1][1].kind == "validation"
        assert "import of 'os'" in generator.calls[1][1].error
    finally:
        await app.stop()


async def test_render_failure_repaired_then_gives_up_with_a_clear_message(tmp_path):
    sandbox = FakeSandbox(["scene_error", "ok"])
    generator = FakeGenerator()
    app, _ = make(tmp_path, generator=generator, sandbox=sandbox)
    await app.start()
    try:
        first = await app.submit("Plot sin(x) from 0 to 2pi", Channel.web())
        done = (await asyncio.wait_for(collect(app, first.job_id), 20))[-1]
        assert done.status is S.READY and done.attempts == 2
        assert "NameError" in generator.calls[1][1].error and generator.calls[1][1].kind == "render"
        sandbox.outcomes = ["scene_error"] * 5
        second = await app.submit("Plot cos(x) from 0 to 2pi", Channel.web())
        failed = (await asyncio.wait_for(collect(app, second.job_id), 20))[-1]
        assert failed.status is S.FAILED and failed.attempts == app.settings.max_attempts
        assert "gave up after 3 attempts" in failed.status_message
        assert failed.failure_reason == "render_scene_error"
    finally:
        await app.stop()


async def test_all_providers_failing_fails_with_the_reason(tmp_path):
    generator = FakeGenerator([AllProvidersFailed("no model answered and the solver does not know this")])
    app, _ = make(tmp_path, generator=generator)
    await app.start()
    try:
        response = await app.submit("Explain the Riemann hypothesis", Channel.web())
        failed = (await asyncio.wait_for(collect(app, response.job_id), 20))[-1]
        assert failed.status is S.FAILED and failed.failure_reason == "generation_failed"
        assert "no model answered" in failed.status_message and failed.ai_error
    finally:
        await app.stop()


async def test_per_session_limits_refuse_with_a_reason(tmp_path):
    hold = threading.Event()
    app, _ = make(tmp_path, sandbox=FakeSandbox(hold=hold), max_active_jobs_per_session=2,
                  max_submissions_per_hour=3)
    await app.start()
    try:
        channel = Channel.telegram(5)
        await app.submit("Solve x + 1 = 2 now", channel)
        await app.submit("Solve x + 2 = 3 now", channel)
        with pytest.raises(LimitExceeded) as info:
            await app.submit("Solve x + 3 = 4 now", channel)
        assert info.value.reason == "active_limit" and "already have 2 videos" in str(info.value)
        # Another chat is not affected.
        assert (await app.submit("Solve x + 9 = 10 now", Channel.telegram(6))).status == "queued"
    finally:
        hold.set()
        await app.stop()


async def test_cancel_queued_and_running(tmp_path):
    hold = threading.Event()
    sandbox = FakeSandbox(hold=hold)
    app, _ = make(tmp_path, sandbox=sandbox)
    await app.start()
    try:
        running = await app.submit("Solve x + 1 = 2 now", Channel.telegram(7))
        await asyncio.to_thread(sandbox.started.wait, 10)
        waiting = await app.submit("Solve x + 5 = 9 now", Channel.telegram(8))
        cancelled = await app.cancel(waiting.job_id)
        assert cancelled.status is S.FAILED and cancelled.status_message == "Cancelled"
        assert app.store.queue_position(waiting.job_id) is None
        marked = await app.cancel(running.job_id)
        assert marked.cancel_requested
        hold.set()
        final = (await asyncio.wait_for(collect(app, running.job_id), 20))[-1]
        assert final.status is S.FAILED and final.failure_reason == "cancelled"
        with pytest.raises(InvalidTransition):
            await app.cancel(running.job_id)
    finally:
        hold.set()
        await app.stop()


async def test_code_cache_reuses_validated_code(tmp_path):
    generator = FakeGenerator()
    app, _ = make(tmp_path, generator=generator)
    await app.start()
    try:
        first = await app.submit("Solve 2x + 3 = 11", Channel.web())
        await asyncio.wait_for(collect(app, first.job_id), 20)
        second = await app.submit("  solve 2x  + 3 = 11 ", Channel.web())
        seen = await asyncio.wait_for(collect(app, second.job_id), 20)
        assert seen[-1].status is S.READY and seen[-1].code_cache_hit
        assert S.CODE_VALIDATING not in [j.status for j in seen]
        assert len(generator.calls) == 1
        assert app.metrics.value("appliance_code_cache_hits_total") == 1
    finally:
        await app.stop()


async def test_ready_expires_after_the_access_window_and_video_is_deleted(tmp_path):
    app, storage = make(tmp_path)
    await app.start()
    try:
        submitted = await app.submit("Solve 3x = 12 quickly", Channel.telegram(1))
        ready = (await asyncio.wait_for(collect(app, submitted.job_id), 20))[-1]
        assert ready.status is S.READY and storage.exists(ready.video_key)
        assert app.maintenance.expire_ready() == 0  # still inside the window
        later = datetime.now(UTC) + timedelta(seconds=app.settings.ready_ttl_s + 1)
        assert app.maintenance.expire_ready(now=later) == 1
        expired = await app.get(ready.job_id)
        assert expired.status is S.EXPIRED and expired.video_key is None and expired.video_url is None
        assert not storage.exists(ready.video_key)
    finally:
        await app.stop()


async def test_queued_job_times_out_after_an_hour(tmp_path):
    app, _ = make(tmp_path, run_workers=False)
    await app.start()
    try:
        stuck = await app.submit("Solve 4x = 12 quickly", Channel.telegram(2))
        assert app.maintenance.fail_stale_queued() == 0
        later = datetime.now(UTC) + timedelta(seconds=3601)
        assert app.maintenance.fail_stale_queued(now=later) == 1
        timed_out = await app.get(stuck.job_id)
        assert timed_out.status is S.FAILED and "Timed out" in timed_out.status_message
        assert app.store.queue_length() == 0
    finally:
        await app.stop()


async def test_graceful_shutdown_requeues_unfinished_job(tmp_path):
    hold = threading.Event()
    sandbox = FakeSandbox(hold=hold)
    app, _ = make(tmp_path, sandbox=sandbox, shutdown_grace_s=0)
    await app.start()
    submitted = await app.submit("Solve 5x = 10 quickly", Channel.telegram(3))
    await asyncio.to_thread(sandbox.started.wait, 10)
    store_dir = app.settings.store_dir
    await app.stop()
    hold.set()
    from appliance.store import Store

    store = Store(store_dir)
    job = store.get_job(submitted.job_id)
    assert job.status is S.QUEUED and job.attempts == 0 and job.interruptions == 1
    assert "restart" in job.status_message
    assert store.queue_position(submitted.job_id) == 1
    store.close()
