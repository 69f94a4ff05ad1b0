"""The whole life of a job through the HTTP API with every real part: uvicorn on 127.0.0.1, the
built-in solver (no API key), the Docker sandbox at quality "low", local storage and signed URLs.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlsplit

import av
import pytest

from tests.integration import server_fixtures
from tests.integration.job_owner import OwnerClient

pytestmark = pytest.mark.docker
live_server = server_fixtures.live_server  # the fixture, for the tests below

FULL_LIFE = ["queued", "ai_generating", "code_validating", "rendering", "uploading", "ready"]


def test_a_real_job_through_the_http_api(live_server):
    server = live_server(render_quality="low", render_slots=1, maintenance_interval_s=3600)
    client = OwnerClient(base_url=server.base_url, timeout=30)
    assert client.get("/readyz").json()["ready"] is True

    accepted = client.post("/api/jobs", json={"problem_text": "Solve 2x + 3 = 11"})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]

    seen: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=240) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data:"):
                seen.append(json.loads(line[5:]))
    statuses = [event["job_status"] for event in seen]
    assert statuses[-1] == "ready", seen[-1]["status_message"]
    steps = [FULL_LIFE.index(status) for status in statuses]
    assert steps == sorted(steps), statuses  # forward only: the built-in solver needs no repair
    # The stream starts from the job's state when the client connects; writing the scene
    # with the built-in solver takes well under a second, so it may already be past that.
    assert {"rendering", "uploading", "ready"} <= set(statuses), statuses

    job = client.get(f"/api/jobs/{job_id}", params={"include": "code"}).json()
    assert job["ai_provider_used"] == "builtin" and "4" in (job["answer_text"] or "")
    assert job["answer_check"] == "verified"
    assert "Scene" in job["manim_code"] and job["render_duration_seconds"] > 0
    assert job["video_url"].startswith(server.base_url + "/videos/")

    video_path = urlsplit(job["video_url"]).path + "?" + urlsplit(job["video_url"]).query
    video = client.get(video_path)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    container = av.open(io.BytesIO(video.content), mode="r")
    try:
        assert container.streams.video[0].width > 0 and float(container.duration or 0) > 1_000_000
    finally:
        container.close()
    assert client.get(f"/api/jobs/{job_id}").json()["job_status"] == "delivered"

    assert client.post(f"/api/jobs/{job_id}/delivered").status_code == 200
    assert client.delete(f"/api/jobs/{job_id}").status_code == 409
    metrics = client.get("/metrics").text
    assert 'appliance_jobs_submitted_total{channel="api"} 1' in metrics
