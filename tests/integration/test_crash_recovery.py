"""SIGKILL in the middle of a render, start again: every job ends READY or FAILED,
none lost, none duplicated, no sandbox container left behind. Real processes, real Docker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import docker
import pytest

from appliance.sandbox.docker import LABEL_OWNER, LABEL_ROLE, ROLE_SANDBOX

SANDBOX_ROLE_LABEL = f"{LABEL_ROLE}={ROLE_SANDBOX}"

pytestmark = pytest.mark.docker
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sandbox_containers(client, owner_pids=None):
    """Sandbox containers, optionally only those made by the given processes (other
    appliances may share the engine)."""
    # The low-level listing reads labels in one call: no per-container inspection that a
    # removal happening meanwhile could turn into a 404.
    found = client.api.containers(all=True, filters={"label": SANDBOX_ROLE_LABEL})
    if owner_pids is None:
        return found
    pids = {str(p) for p in owner_pids}
    return [c for c in found if (c.get("Labels") or {}).get(LABEL_OWNER, "::").split(":")[1] in pids]


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
