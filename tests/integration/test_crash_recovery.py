"""SIGKILL in the middle of a render, start again: every job ends READY or FAILED,
none lost, none duplicated, no sandbox container left behind. Real processes, real Docker.

The second test is the long one: `appliance serve` killed ten times at random moments while
twelve jobs are in flight, restarted each time."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import docker
import httpx
import pytest

from appliance.models import ProcessingStatus
from appliance.store import Store
from tests.integration.appliance_processes import ApplianceProcess, Processes, free_port, sandbox_containers
from tests.integration.job_owner import OwnerClient

pytestmark = pytest.mark.docker
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S = ProcessingStatus
_sandbox_containers = sandbox_containers


def test_sigkill_mid_render_then_restart_loses_and_duplicates_nothing(tmp_path):
    client = docker.from_env()
    env = {**os.environ, "PYTHONPATH": ROOT}
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_driver", "submit", str(tmp_path), "3"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    job_ids = []
    assert first.stdout is not None
    for line in first.stdout:
        if line.strip() == "SUBMITTED":
            break
        job_ids.append(line.strip())
    assert len(job_ids) == 3
    # Wait until a render container of this process is running, then kill the process hard.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(c["State"] == "running" for c in _sandbox_containers(client, [first.pid])):
            break
        time.sleep(0.2)
    else:
        first.kill()
        pytest.fail("no render started within 120 s")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)

    assert _sandbox_containers(client, [first.pid]), "the killed process left no container to recover from"
    second = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_driver", "finish", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    stdout, stderr = second.communicate(timeout=900)
    assert second.returncode == 0, stderr[-2000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(report["jobs"]) == sorted(job_ids)  # none lost, none added
    for job_id, job in report["jobs"].items():
        assert job["status"] in ("ready", "failed"), (job_id, job)
    assert sum(job["status"] == "ready" for job in report["jobs"].values()) >= 2
    assert report["queue_length"] == 0 and report["running"] == 0
    leftover = _sandbox_containers(client, [first.pid, second.pid])
    assert not leftover, f"sandbox containers left behind: {[c['Names'] for c in leftover]}"


KILLS = 10
JOBS = 12
SEED = 15  # the kill moments are random, and the same on every run
KILL_AFTER_S = (1.0, 6.0)  # after the restarted server answers
# Before these kills the test waits for a job to become READY and confirms its delivery, so
# that later kills and restarts meet delivered jobs. Kills 1 to 6 come one after the other:
# the jobs at the front of the queue are cut short by every one of them.
DELIVER_BEFORE_KILLS = frozenset({7, 9})
PROBLEM = "Solve x + 1 = 3"  # the built-in solver's simplest scene
# No web page (a faster start); one client submits every job.
SERVER_ENV = {"APPLIANCE_WEB_UI": "false", "APPLIANCE_MAX_ACTIVE_JOBS_PER_CLIENT": str(JOBS),
              "APPLIANCE_MAX_SUBMISSIONS_PER_CLIENT_PER_HOUR": str(JOBS * 2)}
RUNNING = ("queued", "ai_generating", "code_validating", "rendering", "uploading")


def _statuses(http: httpx.Client, server: ApplianceProcess, job_ids: list[str]) -> dict[str, str]:
    return {job_id: http.get(server.url(f"/api/jobs/{job_id}")).json()["job_status"] for job_id in job_ids}


def _deliver_next_ready(http: httpx.Client, server: ApplianceProcess, job_ids: list[str],
                        delivered: set[str]) -> str:
    """Wait for a job to be READY that was not delivered yet, and confirm its delivery."""
    deadline = time.monotonic() + 600
    while True:
        ready = [job_id for job_id, status in _statuses(http, server, job_ids).items()
                 if status == "ready" and job_id not in delivered]
        if ready:
            answer = http.post(server.url(f"/api/jobs/{ready[0]}/delivered"))
            assert answer.status_code == 200 and answer.json()["job_status"] == "delivered", answer.text
            return ready[0]
        assert time.monotonic() < deadline, "no job became READY"
        time.sleep(0.5)


def test_serve_killed_ten_times_with_jobs_in_flight_finishes_every_job_once(tmp_path):
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    port = free_port()  # one address for every restart: video URLs are made from it
    client = docker.from_env()
    delivered: set[str] = set()
    try:
        # Job keys are derived from the data directory's signing key: they outlive every restart.
        with Processes(tmp_path) as procs, OwnerClient(trust_env=False, timeout=30) as http:
            server = procs.serve(data_dir, port, **SERVER_ENV)
            server.wait_serving()
            job_ids = []
            for _ in range(JOBS):
                answer = http.post(server.url("/api/jobs"), json={"problem_text": PROBLEM, "quality": "low"})
                assert answer.status_code == 202, answer.text
                job_ids.append(answer.json()["job_id"])
            for kill in range(1, KILLS + 1):
                if kill in DELIVER_BEFORE_KILLS:
                    delivered.add(_deliver_next_ready(http, server, job_ids, delivered))
                time.sleep(rng.uniform(*KILL_AFTER_S))
                server.kill()
                server = procs.serve(data_dir, port, **SERVER_ENV)
                server.wait_serving()
            deadline = time.monotonic() + 900
            statuses = _statuses(http, server, job_ids)
            while any(status in RUNNING for status in statuses.values()):
                assert time.monotonic() < deadline, statuses
                time.sleep(1)
                statuses = _statuses(http, server, job_ids)
            assert server.stop() == 0, server.output()[-3000:]
            pids = [process.pid for process in procs.started]

        for process in procs.started:
            assert "Traceback" not in process.output(), process.output()[-4000:]
        store = Store(data_dir / "store")
        try:
            jobs = {job.job_id: job for job in store.iter_jobs()}
            assert store.queue_length() == 0 and store.running_count() == 0
        finally:
            store.close()
        assert sorted(jobs) == sorted(job_ids)  # none lost, none added
        assert len(delivered) == len(DELIVER_BEFORE_KILLS)
        interruptions = sorted(job.interruptions for job in jobs.values())
        for job_id, job in jobs.items():
            # READY once: never failed an attempt, and a delivered job stayed delivered through
            # the kills and restarts after its delivery (a run after it fails to leave DELIVERED).
            expected = S.DELIVERED if job_id in delivered else S.READY
            assert job.status is expected, (job_id, job.status, job.status_message, job.last_error)
            assert job.completed_at and job.attempts == 1, (job_id, job.attempts, job.last_error)
        # The kills came while the same jobs were at the front: some were cut short by most of them.
        assert interruptions[-1] >= 6, interruptions
        leftover = sandbox_containers(client, pids)
        assert not leftover, f"sandbox containers left behind: {[c['Names'] for c in leftover]}"
    finally:
        client.close()
