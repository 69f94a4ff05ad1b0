"""Orchestrator benchmark: prints figures measured side by side in one run.

    python bench/service_bench.py [--runs 3] [--burst 20] [--quality low]
    python bench/service_bench.py --submit-only [--queued 10,10000] [--samples 200]

1. end-to-end seconds from submit to READY for one built-in problem (median of --runs),
   and the sandbox render alone of the same scene: the orchestration overhead ratio
   (target: under 1.10);
2. jobs per minute with 1 and 2 render slots on a burst of --burst jobs;
3. the appliance's resident memory idle and with 1000 jobs queued (target: under 400 MiB, flat);
4. the latency of ``Appliance.submit`` (the real service and store; fakes for the model,
   the renderer and the video storage; no render slots, so jobs stay queued) with 10 and
   with 10,000 jobs already queued, side by side, and their ratio (target: close to 1); and
   as a control, with 10 queued in a store that holds 10,000 jobs too.

1 to 3 need the Docker engine and the sandbox image (`appliance sandbox build`); 4 needs
neither, and ``--submit-only`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import tempfile
import time
from pathlib import Path

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.fakes import DirectoryStorage, ScriptedRenderer, ScriptedSource
from appliance.generation.builtin import solve
from appliance.models import ACTIVE_STATUSES, ProcessingJob, ProcessingStatus, UserSession
from appliance.sandbox.connection import open_local_client
from appliance.sandbox.docker import DockerSandbox
from appliance.service import Appliance, Channel
from appliance.store import Store
from appliance.validation import COMPAT_PRELUDE

PROBLEMS = ["Solve 2x + 3 = 11", "Solve 3x - 7 = 5", "Solve 5x + 1 = 21", "Solve 4x - 2 = 10",
            "Solve x/2 + 3 = 7", "Solve 7x + 4 = 25", "Solve 6x - 9 = 3", "Solve 2x + 10 = 4"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings_for(data_dir: Path, slots: int, quality: str) -> Settings:
    return Settings.from_env({}, data_dir=data_dir, render_slots=slots, render_quality=quality, warm_pool_size=0,
                             code_cache=False, max_active_jobs_per_session=1000, max_submissions_per_hour=100000,
                             maintenance_interval_s=3600)


async def wait_all(app: Appliance, job_ids: list[str], timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = [await app.get(job_id) for job_id in job_ids]
        if all(job.status not in ACTIVE_STATUSES for job in jobs):
            return
        await asyncio.sleep(0.25)
    raise TimeoutError("jobs did not finish")


async def end_to_end(runs: int, quality: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        settings = settings_for(Path(scratch), 1, quality)
        app = build_appliance(settings, run_maintenance=False)
        await app.start()
        sandbox = DockerSandbox(settings, open_local_client())
        try:
            job_seconds, render_seconds = [], []
            for index in range(runs):
                problem = PROBLEMS[index % len(PROBLEMS)]
                started = time.monotonic()
                response = await app.submit(problem, Channel.web())
                await wait_all(app, [response.job_id])
                job_seconds.append(time.monotonic() - started)
                job = await app.get(response.job_id)
                assert job.status.value == "ready", job.status_message
                # The same scene rendered alone, straight through the sandbox.
                solution = solve(problem)
                started = time.monotonic()
                result = await asyncio.to_thread(sandbox.render, solution.code, solution.scene_name, quality,
                                                 COMPAT_PRELUDE)
                render_seconds.append(time.monotonic() - started)
                if result.video_path:
                    Path(result.video_path).unlink(missing_ok=True)
            return statistics.median(job_seconds), statistics.median(render_seconds)
        finally:
            sandbox.close()
            await app.stop()


async def burst(slots: int, count: int, quality: str) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        app = build_appliance(settings_for(Path(scratch), slots, quality), run_maintenance=False)
        await app.start()
        try:
            started = time.monotonic()
            ids = [(await app.submit(PROBLEMS[i % len(PROBLEMS)], Channel.web())).job_id for i in range(count)]
            await wait_all(app, ids)
            elapsed = time.monotonic() - started
            ready = sum([(await app.get(job_id)).status.value == "ready" for job_id in ids])
            print(f"  {slots} slot(s): {count} jobs in {elapsed:.1f}s, {ready} ready")
            return count / elapsed * 60
        finally:
            await app.stop()


async def memory() -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        app = build_appliance(settings_for(Path(scratch), 1, "low"), run_workers=False, run_maintenance=False)
        await app.start()
        try:
            gc.collect()
            idle = rss_mib()
            for index in range(1000):
                await app.submit(f"Solve {index}x + 3 = 11 please", Channel.web())
            gc.collect()
            loaded = rss_mib()
            for index in range(1000):
                await app.submit(f"Solve {index}x + 5 = 12 please", Channel.web())
            gc.collect()
            return idle, loaded, rss_mib()
        finally:
            await app.stop()


def fill_store(store: Store, queued: int, finished: int = 0) -> None:
    """``queued`` jobs waiting and ``finished`` failed ones, straight through the store, each
    job from a session of its own (as many people)."""
    for index in range(queued + finished):
        session = store.create_session(UserSession.new(channel="web"))
        job = store.create_job(ProcessingJob.new(session.session_id, f"Solve {index}x + 3 = 11 please"))
        if index >= queued:
            store.transition_job(job.job_id, ProcessingStatus.FAILED, "Cancelled")


async def queued_appliance(scratch: Path, queued: int, finished: int = 0) -> Appliance:
    """A started appliance (fakes for the model, renderer and storage; no render slots, so
    jobs stay queued) with ``queued`` jobs waiting and ``finished`` ones done."""
    settings = settings_for(scratch, 1, "low")
    store = Store(settings.store_dir)
    started = time.monotonic()
    fill_store(store, queued, finished)
    print(f"  {queued} jobs queued, {finished} finished, in {time.monotonic() - started:.1f}s", flush=True)
    app = build_appliance(settings, store=store, source=ScriptedSource(), renderer=ScriptedRenderer(),
                          storage=DirectoryStorage(scratch / "videos"), run_workers=False, run_maintenance=False)
    await app.start()
    return app


async def timed_submit(app: Appliance, index: int, queued: int) -> float:
    """Seconds one ``Appliance.submit`` takes; the job is cancelled afterwards, untimed, so
    the queue stays as long as it was."""
    started = time.perf_counter()
    response = await app.submit(f"Solve {index}x - 7 = 5 please", Channel.web())
    elapsed = time.perf_counter() - started
    assert response.queue_position == queued + 1, response
    await app.cancel(response.job_id)
    return elapsed


async def submit_latencies(short: int, long: int, samples: int) -> None:
    """Median submit latency with a short and a long queue; and, as a control, with the
    short queue in a store holding as many jobs as the long one (SQLite's own B-trees grow
    a little slower with the file, whatever the queue). The appliances run side by side and
    take turns, one submission each, so a busy machine slows them all alike."""
    print(f"submit latency (median of {samples}; the real service and store, jobs stay queued):")
    cases = [(short, 0), (long, 0), (short, long - short)]
    with contextlib.ExitStack() as scratch_dirs:
        apps = [await queued_appliance(Path(scratch_dirs.enter_context(tempfile.TemporaryDirectory())), *case)
                for case in cases]
        try:
            latencies: list[list[float]] = [[] for _ in cases]
            for index in range(samples + 5):  # the first five warm up, untimed
                for slot, (app, (queued, _)) in enumerate(zip(apps, cases, strict=True)):
                    elapsed = await timed_submit(app, index, queued)
                    if index >= 5:
                        latencies[slot].append(elapsed)
        finally:
            for app in apps:
                await app.stop()
    short_ms, long_ms, control_ms = (statistics.median(values) * 1000 for values in latencies)
    print(f"  {short} queued: {short_ms:.2f} ms   {long} queued: {long_ms:.2f} ms   "
          f"({short} queued with {long - short} finished jobs in the store: {control_ms:.2f} ms)")
    print(f"submit latency ratio, {long} / {short} queued: {long_ms / short_ms:.2f}  (target: close to 1); "
          f"with stores of the same size: {long_ms / control_ms:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--quality", default="low")
    parser.add_argument("--queued", default="10,10000", help="the short and the long queue to submit to")
    parser.add_argument("--samples", type=int, default=200, help="submissions timed per queue length")
    parser.add_argument("--submit-only", action="store_true", help="only the submit latency (no Docker needed)")
    args = parser.parse_args()
    short, long = (int(count) for count in args.queued.split(","))
    if args.submit_only:
        await submit_latencies(short, long, args.samples)
        return

    job_s, render_s = await end_to_end(args.runs, args.quality)
    print(f"end-to-end submit -> READY (median of {args.runs}): {job_s:.2f}s")
    print(f"sandbox render alone (median):                {render_s:.2f}s")
    print(f"orchestration overhead ratio:                  {job_s / render_s:.3f}  (target < 1.10)")
    print(f"burst of {args.burst} jobs:")
    per_minute = {slots: await burst(slots, args.burst, args.quality) for slots in (1, 2)}
    for slots, rate in per_minute.items():
        print(f"jobs per minute with {slots} slot(s): {rate:.1f}")
    print(f"2-slot / 1-slot throughput ratio: {per_minute[2] / per_minute[1]:.2f}")
    idle, loaded, loaded2 = await memory()
    print(f"resident memory: idle {idle:.0f} MiB, 1000 queued {loaded:.0f} MiB, 2000 queued {loaded2:.0f} MiB "
          "(target < 400 MiB and flat)")
    await submit_latencies(short, long, args.samples)


if __name__ == "__main__":
    asyncio.run(main())
