"""Renders on more than one Docker engine: the local one plus a second, real engine reached
over TCP with mutual TLS (``APPLIANCE_RENDER_ENGINES``), as a render machine would be.

What a person running the appliance would check: doctor says what the new engine lacks;
the appliance puts the sandbox image there by itself; jobs render on both engines; when
the second machine dies in the middle of a render, the job still ends READY (the scene is
rendered again on the engine that is left), and the appliance stays ready.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.doctor import run_checks
from appliance.models import ProcessingStatus
from appliance.service import Appliance, Channel
from tests.integration.engine_fixtures import SecondEngine, second_engine
from tests.unit.fakes import FakeGenerator

S = ProcessingStatus
pytestmark = pytest.mark.docker
SANDBOX_LABEL = "manim-appliance.role=sandbox"

# Long enough at 480p15 that the second engine can be killed while it renders.
SLOW_SCENE = """
from manim import *

class Slow(Scene):
    def construct(self):
        square = Square()
        self.add(square)
        self.play(square.animate.shift(RIGHT * 2).rotate(PI), run_time=30, rate_func=linear)
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[SecondEngine]:
    with second_engine() as started:
        yield started


def _settings(tmp_path: Path, engine: SecondEngine, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        data_dir=tmp_path, render_quality="low", warm_pool_size=0, render_slots=1, render_timeout_s=120.0,
        render_engines=((engine.url, 1),), render_engines_tls_dir=engine.tls_dir, maintenance_interval_s=3600)
    values.update(overrides)
    return Settings.from_env({}, **values)


def _video_seconds(app: Appliance, job) -> float:  # type: ignore[no-untyped-def]
    with app.video_file(job) as path:
        container = av.open(str(path))
        try:
            assert container.streams.video[0].width > 0
            return float(container.duration or 0) / 1_000_000
        finally:
            container.close()


async def _until(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.5)


async def _finish(app: Appliance, job_ids: list[str], timeout_s: float) -> list:  # type: ignore[type-arg]
    async def final(job_id: str):  # type: ignore[no-untyped-def]
        async for job in app.watch(job_id, poll_interval_s=0.5):
            last = job
        return last

    return list(await asyncio.wait_for(asyncio.gather(*(final(job_id) for job_id in job_ids)), timeout_s))


def test_doctor_names_an_engine_without_the_image_and_the_command_that_fixes_it(
        tmp_path: Path, engine: SecondEngine) -> None:
    client = engine.client()
    try:
        for image in client.images.list(name="manim-appliance-sandbox"):
            client.images.remove(image.id, force=True)
    finally:
        client.close()
    checks = {check.name: check for check in run_checks(_settings(tmp_path, engine), online=False)}
    check = checks[f"render engine {engine.url}"]
    assert not check.ok
    assert "missing" in check.detail and "appliance sandbox push" in check.fix
    assert checks["sandbox image"].ok  # the local engine is unaffected


async def test_the_extra_engine_gets_the_image_by_itself_and_renders_beside_the_local_one(
        tmp_path: Path, engine: SecondEngine) -> None:
    app = build_appliance(_settings(tmp_path, engine), run_maintenance=False)
    await app.start()
    try:
        extra = app.engines[1]
        # The image is copied from the local engine (about 40 s for 1.6 GB here).
        await _until(lambda: extra.up, 600, "the sandbox image on the second engine")
        problems = ["Solve 2x + 3 = 11", "Solve 3x - 4 = 14", "Solve 5x + 1 = 26", "Solve 7x - 7 = 21"]
        responses = [await app.submit(text, Channel.telegram(100 + n)) for n, text in enumerate(problems)]
        jobs = await _finish(app, [r.job_id for r in responses], 600)
        assert [job.status for job in jobs] == [S.READY] * 4, [(j.status, j.last_error) for j in jobs]
        for job in jobs:
            assert _video_seconds(app, job) > 5
        local, remote = app.engines
        assert local.renders >= 1 and remote.renders >= 1, (local.renders, remote.renders)
        assert local.renders + remote.renders == 4
        metrics = app.metrics_text()
        assert f'appliance_engine_renders_total{{engine="{engine.url}"}} {remote.renders}' in metrics
        assert f'appliance_engine_up{{engine="{engine.url}"}} 1' in metrics
        readiness = app.readiness()
        assert readiness["ready"] and readiness["checks"]["render_engines"]["engines"][engine.url]["ok"]
    finally:
        await app.stop()
    client = engine.client()
    try:
        assert client.images.get(app.settings.sandbox_image).labels["manim-appliance.sandbox-image-version"]
        assert client.containers.list(all=True, filters={"label": SANDBOX_LABEL}) == []
    finally:
        client.close()
    checks = {check.name: check for check in run_checks(_settings(tmp_path, engine), online=False)}
    assert checks[f"render engine {engine.url}"].ok, checks[f"render engine {engine.url}"].detail
    assert "1 render slot" in checks[f"render engine {engine.url}"].detail


async def test_a_job_survives_its_render_engine_dying_mid_render(tmp_path: Path, engine: SecondEngine) -> None:
    # The image is there after the test above; `appliance sandbox push` says so (or copies it).
    pushed = subprocess.run(
        ["appliance", "sandbox", "push", "--engine", engine.url], capture_output=True, text=True, timeout=600,
        env={**os.environ, "APPLIANCE_RENDER_ENGINES_TLS_DIR": str(engine.tls_dir)})
    assert pushed.returncode == 0, pushed.stderr
    assert "already on" in pushed.stdout or "copied" in pushed.stdout, pushed.stdout
    remote_client = engine.client()
    app = build_appliance(_settings(tmp_path, engine), source=FakeGenerator([SLOW_SCENE, SLOW_SCENE]),
                          run_maintenance=False)
    await app.start()
    try:
        await _until(lambda: app.engines[1].up, 60, "the second engine")
        first = await app.submit("Animate a square moving right", Channel.telegram(201))
        second = await app.submit("Animate a square moving left", Channel.telegram(202))

        def remote_rendering() -> bool:
            return bool(remote_client.containers.list(filters={"label": SANDBOX_LABEL, "status": "running"}))

        await _until(remote_rendering, 120, "a render on the second engine")
        await asyncio.sleep(1)  # well into the render
        engine.kill()
        jobs = await _finish(app, [first.job_id, second.job_id], 600)
        assert [job.status for job in jobs] == [S.READY, S.READY], [(j.status, j.last_error) for j in jobs]
        for job in jobs:
            assert 29 < _video_seconds(app, job) < 31
        assert not app.engines[1].up
        readiness = app.readiness()
        assert readiness["ready"], readiness
        remote_status = readiness["checks"]["render_engines"]["engines"][engine.url]
        assert not remote_status["ok"]
        assert "went away" in remote_status["error"] or "cannot reach" in remote_status["error"]
        assert f'appliance_engine_up{{engine="{engine.url}"}} 0' in app.metrics_text()
    finally:
        remote_client.close()
        await app.stop()
