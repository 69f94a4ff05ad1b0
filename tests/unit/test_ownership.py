"""One owner per data directory: the lock (``appliance.ownership``) and what an ``Appliance``
that is not the owner does (submits, follows, never recovers or runs jobs, takes over when
the owner ends). Real processes and the real ``appliance render`` beside ``appliance serve``
are in tests/integration/test_data_dir_owner.py."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.models import ProcessingStatus
from appliance.ownership import DataDirLock
from appliance.service import Channel
from tests.unit.fakes import FakeGenerator, FakeSandbox, FakeStorage

S = ProcessingStatus


def test_a_second_opener_is_not_the_owner_until_the_owner_releases(tmp_path) -> None:
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    assert first.acquire("the first") and first.owned
    assert not second.acquire("the second") and not second.owned
    assert second.holder() == "the first"
    assert first.acquire()  # already the owner
    first.release()
    assert first.holder() == ""  # no description of a process that no longer owns it
    assert second.acquire("the second") and second.holder() == "the second"
    assert not first.acquire()
    second.release()
    second.release()  # a no-op


def test_the_lock_goes_when_its_process_dies_however_it_dies(tmp_path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from appliance.ownership import DataDirLock; "
         "lock = DataDirLock(Path(sys.argv[1])); print(lock.acquire('the child'), flush=True); sys.stdin.read()",
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        lock = DataDirLock(tmp_path)
        assert not lock.acquire() and lock.holder() == "the child"
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        assert lock.acquire()
        lock.release()
    finally:
        holder.kill()
        holder.communicate()


def test_a_child_process_does_not_keep_the_owners_lock(tmp_path) -> None:
    lock = DataDirLock(tmp_path)
    assert lock.acquire()
    # close_fds=False: only the descriptor's own close-on-exec flag keeps it out of the child.
    child = subprocess.Popen([sys.executable, "-c", "import sys; print('running', flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=False)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"running\n"  # exec'd, as a server's are
        lock.release()
        successor = DataDirLock(tmp_path)
        assert successor.acquire()
        successor.release()
    finally:
        child.communicate(b"")


def _appliance(tmp_path, run_workers=True):  # type: ignore[no-untyped-def]
    settings = Settings.from_env({}, data_dir=tmp_path, render_slots=1, warm_pool_size=0, shutdown_grace_s=0)
    sandbox = FakeSandbox()
    app = build_appliance(settings, source=FakeGenerator(), renderer=sandbox, storage=FakeStorage(tmp_path / "videos"),
                          run_maintenance=False, run_workers=run_workers)
    return app, sandbox


async def test_a_second_appliance_hands_its_jobs_to_the_owner_and_takes_over_when_it_ends(tmp_path) -> None:
    # The owner runs no render slots here, so what it "runs" stays where the test put it.
    owner, owner_sandbox = _appliance(tmp_path, run_workers=False)
    await owner.start()
    follower = None
    owner_running = True
    try:
        running = await owner.submit("Solve 2x + 3 = 11", Channel.telegram(1))
        assert await asyncio.to_thread(owner.store.pop_next) == running.job_id
        await asyncio.to_thread(owner.store.transition_job, running.job_id, S.AI_GENERATING, "Writing the scene")

        follower, follower_sandbox = _appliance(tmp_path)
        await follower.start()
        assert owner.owns_data_dir and not follower.owns_data_dir
        assert "process" in follower.data_dir_owner()
        readiness = follower.readiness()
        assert readiness["ready"] and "owner" in readiness["checks"]["render_slots"]["detail"]
        # The owner's job in flight is not taken for one a dead process left, and nothing runs here.
        assert (await follower.get(running.job_id)).status is S.AI_GENERATING
        waiting = await follower.submit("Solve 3x = 12 for x", Channel.telegram(2))
        assert (await follower.get(waiting.job_id)).status is S.QUEUED

        owner_running = False
        await owner.stop()  # the follower notices, re-queues what the owner left and runs everything
        seen = await asyncio.wait_for(_statuses(follower, waiting.job_id), 60)
        assert seen[-1] is S.READY and S.AI_GENERATING in seen, seen
        assert follower.owns_data_dir
        left = (await asyncio.wait_for(_statuses(follower, running.job_id, final=True), 60))[-1]
        assert left.status is S.READY and left.interruptions == 1 and left.attempts == 1
        assert len(follower_sandbox.rendered) == 2 and owner_sandbox.rendered == []
    finally:
        if follower is not None:
            await follower.stop()
        if owner_running:
            await owner.stop()
    assert not [thread for thread in threading.enumerate() if thread.name == "data-dir-takeover"]


async def test_a_follower_that_stops_first_leaves_the_owner_alone(tmp_path) -> None:
    owner, _ = _appliance(tmp_path)
    follower, follower_sandbox = _appliance(tmp_path)
    await owner.start()
    try:
        await follower.start()
        submitted = await follower.submit("Solve 2x + 3 = 11", Channel.telegram(1))
        await follower.stop()
        seen = await asyncio.wait_for(_statuses(owner, submitted.job_id), 60)
        assert seen[-1] is S.READY and owner.owns_data_dir and follower_sandbox.rendered == []
        assert not follower.owner_lock.owned
    finally:
        await owner.stop()


async def _statuses(app, job_id, final=False):  # type: ignore[no-untyped-def]
    """Every status ``watch`` shows until READY or final (with ``final``, the job records)."""
    return [job if final else job.status async for job in app.watch(job_id, poll_interval_s=0.2)]
