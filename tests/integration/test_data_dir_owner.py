"""Several processes on one data directory, as people run them: `appliance serve` with two
`appliance render` beside it at once, and two `appliance render` alone. Real processes, the
built-in solver (no model configured) and the real Docker sandbox.

One process owns the data directory and runs every job; the others hand theirs to it and
follow only their own. Before the owner lock, a second process re-queued the first one's job
as "interrupted by the last shutdown" and both ran it (``InvalidTransition`` tracebacks, a
render printing another's progress).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import av
import docker
import httpx
import pytest

from appliance.models import ProcessingJob, ProcessingStatus
from appliance.store import Store
from tests.integration.appliance_processes import ApplianceProcess, Processes, sandbox_containers

pytestmark = pytest.mark.docker
S = ProcessingStatus

# The built-in solver's problems with their answers: each process's output names only its own.
PROBLEMS = {"Solve x + 1 = 3": "x = 2", "Solve x - 4 = 6": "x = 10", "Solve x + 5 = 12": "x = 7"}
STEPS = [S.QUEUED, S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY]
PROGRESS_LINE = re.compile(r"^\[[#-]+\] +[\d.]+s (\w+):", re.MULTILINE)
HANDED_OVER = "Handing the job to the appliance already running on"
# What a process running another's job (or a job twice) printed.
NEVER = ("Traceback", "InvalidTransition", "re-queued", "popped in status", "illegal job transition")


def _stored_jobs(data_dir: Path) -> dict[str, ProcessingJob]:
    """The job records, by problem (read once every process has ended)."""
    store = Store(data_dir / "store")
    try:
        return {job.problem_text: job for job in store.iter_jobs()}
    finally:
        store.close()


def _assert_clean(process: ApplianceProcess) -> None:
    output = process.output()
    for text in NEVER:
        assert text not in output, f"{text!r} in the output of {process.popen.args}:\n{output[-4000:]}"


def _assert_rendered(process: ApplianceProcess, problem: str, out: Path) -> None:
    """Exit 0, a video, its own answer and none of another's, progress that only goes forward."""
    assert process.popen.returncode == 0, process.output()[-4000:]
    stdout, stderr = process.stdout(), process.stderr()
    assert f"Answer: {PROBLEMS[problem]} (verified)" in stdout, stdout
    for other, answer in PROBLEMS.items():
        if other != problem:
            assert answer not in stdout + stderr, (problem, other, stdout + stderr)
    statuses = [STEPS.index(S(value)) for value in PROGRESS_LINE.findall(stderr)]
    assert statuses and statuses == sorted(statuses), stderr  # one run: never back to an earlier step
    with av.open(str(out)) as media:
        assert media.streams.video and media.duration


def _assert_ran_once(job: ProcessingJob) -> None:
    assert job.status in (S.READY, S.DELIVERED), (job.problem_text, job.status, job.status_message)
    assert job.completed_at, job.problem_text  # it was READY (a render delivers its own job afterwards)
    assert job.attempts == 1 and job.interruptions == 0, (job.problem_text, job.attempts, job.interruptions)


def _wait_for_ready(server: ApplianceProcess, accepted: dict, timeout_s: float = 900) -> dict:
    deadline = time.monotonic() + timeout_s
    job_id, owner = accepted["job_id"], {"X-Job-Token": accepted["job_token"]}
    with httpx.Client(trust_env=False, timeout=10) as client:
        while True:
            job = client.get(server.url(f"/api/jobs/{job_id}"), headers=owner).json()
            if job["job_status"] not in ("queued", "ai_generating", "code_validating", "rendering", "uploading"):
                return job
            assert time.monotonic() < deadline, job
            assert server.popen.poll() is None, server.output()[-3000:]
            time.sleep(0.5)


def test_serve_and_two_renders_on_one_data_directory_each_job_runs_once(tmp_path):
    data_dir = tmp_path / "data"
    client = docker.from_env()
    served, *rendered = PROBLEMS
    outs = {problem: tmp_path / f"render{index}.mp4" for index, problem in enumerate(rendered)}
    try:
        with Processes(tmp_path) as procs:
            server = procs.serve(data_dir)
            server.wait_serving()
            with httpx.Client(trust_env=False, timeout=30) as http:
                ready = http.get(server.url("/readyz")).json()
                assert "docker" in ready["checks"], ready  # the server is the owner: it renders
                submitted = http.post(server.url("/api/jobs"), json={"problem_text": served, "quality": "low"})
                assert submitted.status_code == 202, submitted.text
            renders = {problem: procs.start("render", problem, "-o", str(outs[problem]), data_dir=data_dir)
                       for problem in rendered}
            for process in renders.values():
                process.wait(900)
            api_job = _wait_for_ready(server, submitted.json())
            assert api_job["job_status"] == "ready", api_job
            assert server.stop() == 0, server.output()[-3000:]
            pids = [process.pid for process in procs.started]

        for problem, process in renders.items():
            _assert_rendered(process, problem, outs[problem])
            assert HANDED_OVER in process.stderr()
        for process in procs.started:
            _assert_clean(process)
        jobs = _stored_jobs(data_dir)
        assert sorted(jobs) == sorted(PROBLEMS)
        for job in jobs.values():
            _assert_ran_once(job)
        assert jobs[served].status is S.READY
        leftover = sandbox_containers(client, pids)
        assert not leftover, f"sandbox containers left behind: {[c['Names'] for c in leftover]}"
    finally:
        client.close()


def test_two_renders_at_once_both_succeed_and_jobs_list_shows_them(tmp_path):
    data_dir = tmp_path / "data"
    client = docker.from_env()
    first_problem, second_problem = list(PROBLEMS)[:2]
    outs = {first_problem: tmp_path / "first.mp4", second_problem: tmp_path / "second.mp4"}
    lock_file = data_dir / "owner.lock"
    try:
        with Processes(tmp_path) as procs:
            # The owner finishes what it started before it exits, however slow this machine is.
            grace = {"APPLIANCE_SHUTDOWN_GRACE_S": "900"}
            first = procs.start("render", first_problem, "-o", str(outs[first_problem]), data_dir=data_dir, **grace)
            # The first one owns the data directory once it has written who it is into the lock file.
            deadline = time.monotonic() + 120
            while not (lock_file.exists() and lock_file.read_text()):
                assert first.popen.poll() is None, first.output()[-3000:]
                assert time.monotonic() < deadline, "the first render never took the data directory"
                time.sleep(0.1)
            second = procs.start("render", second_problem, "-o", str(outs[second_problem]), data_dir=data_dir,
                                 **grace)
            first.wait(900)
            second.wait(900)
            listed = procs.start("jobs", "list", data_dir=data_dir)
            assert listed.wait(120) == 0, listed.output()
            pids = [first.pid, second.pid]

        _assert_rendered(first, first_problem, outs[first_problem])
        _assert_rendered(second, second_problem, outs[second_problem])
        assert HANDED_OVER not in first.stderr() and HANDED_OVER in second.stderr()
        for process in (first, second):
            _assert_clean(process)
        jobs = _stored_jobs(data_dir)
        assert sorted(jobs) == sorted(outs)
        for job in jobs.values():
            assert job.status is S.DELIVERED
            _assert_ran_once(job)
            assert job.job_id in listed.stdout()
        leftover = sandbox_containers(client, pids)
        assert not leftover, f"sandbox containers left behind: {[c['Names'] for c in leftover]}"
    finally:
        client.close()
