"""The whole job life with real parts: the Docker sandbox, the built-in solver, real storage.

A job goes QUEUED -> ... -> READY -> DELIVERED with every status observed through
``watch``; the video is a real MP4 while READY and gone after delivery. The same life
against a real S3-compatible HTTP server (moto) fetches the presigned URL over HTTP
before and after deletion.
"""

from __future__ import annotations

import asyncio

import av
import httpx
import pytest

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.models import ProcessingStatus
from appliance.service import Appliance, Channel
from tests.integration.moto_fixtures import moto_s3  # noqa: F401  (fixture)

S = ProcessingStatus
pytestmark = pytest.mark.docker
# QUEUED is what submit answers; a slot may pick the job up before watch subscribes.
FULL_LIFE = [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY]


def _settings(tmp_path, **overrides):
    base = dict(data_dir=tmp_path, render_quality="low", warm_pool_size=0, render_slots=1,
                maintenance_interval_s=3600)
    base.update(overrides)
    return Settings.from_env({}, **base)


def _assert_valid_mp4(path_or_bytes):
    container = av.open(path_or_bytes)
    try:
        assert container.format.name.startswith("mov"), container.format.name
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / 1_000_000
        assert stream.width > 0 and duration > 1.0
    finally:
        container.close()


async def _life(app: Appliance, problem: str):
    response = await app.submit(problem, Channel.telegram(4242))
    assert response.status == "queued"
    seen = [job async for job in app.watch(response.job_id, poll_interval_s=0.5)]
    return seen


async def test_builtin_job_through_every_status_to_delivered_with_local_storage(tmp_path):
    app = build_appliance(_settings(tmp_path), run_maintenance=False)
    await app.start()
    try:
        seen = await asyncio.wait_for(_life(app, "Solve 2x + 3 = 11"), 240)
        statuses = [job.status for job in seen]
        assert [s for s in FULL_LIFE if s in statuses] == FULL_LIFE, statuses
        ready = seen[-1]
        assert ready.status is S.READY, ready.status_message
        assert ready.ai_provider_used == "builtin" and ready.answer_text == "x = 4"
        assert ready.answer_check == "verified"
        assert ready.render_duration_seconds and ready.video_size_bytes and ready.video_size_bytes > 1000
        video_file = app.storage.verify(*_signed_parts(ready.video_url))
        _assert_valid_mp4(str(video_file))
        delivered = await app.mark_delivered(ready.job_id)
        assert delivered.status is S.DELIVERED and delivered.video_key is None
        assert not video_file.exists()
        assert list(app.storage.keys()) == []
        session = await app.session_for_chat(4242)
        assert session.successful_generations == 1
    finally:
        await app.stop()


def _signed_parts(url: str):
    parsed = httpx.URL(url)
    key = parsed.path.rsplit("/", 1)[-1]
    return key, parsed.params["expires"], parsed.params["sig"]


async def test_same_life_against_a_real_s3_server(tmp_path, moto_s3):  # noqa: F811
    endpoint, bucket, key_id, secret = moto_s3
    settings = _settings(tmp_path, storage_backend="s3", s3_bucket=bucket, s3_endpoint_url=endpoint,
                         s3_access_key_id=key_id, s3_secret_access_key=secret, s3_region="us-east-1")
    app = build_appliance(settings, run_maintenance=False)
    await app.start()
    try:
        seen = await asyncio.wait_for(_life(app, "Найди производную x^3"), 240)
        ready = seen[-1]
        assert ready.status is S.READY, ready.status_message
        assert "X-Amz-Signature" in ready.video_url and ready.video_expires_at
        async with httpx.AsyncClient(trust_env=False) as client:
            before = await client.get(ready.video_url)
            assert before.status_code == 200
            assert before.headers["content-type"] == "video/mp4"
            _assert_valid_mp4(__import__("io").BytesIO(before.content))
            await app.mark_delivered(ready.job_id)
            after = await client.get(ready.video_url)
            assert after.status_code == 404
    finally:
        await app.stop()
